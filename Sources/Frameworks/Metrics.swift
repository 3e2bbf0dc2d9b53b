import Foundation
public import BlacktailNumerics

/// Evaluation metrics: named numbers, written as a `metrics` artifact (a JSON object of numbers).
public enum Metrics {
    /// Accuracy, macro precision, recall and F1, log-loss, the confusion matrix as
    /// `confusion_TRUE_PREDICTED` counts, and ROC AUC for two classes. Unlabelled rows (-1) are
    /// left out.
    public static func classification(probabilities: Matrix, labels: [Int64]) -> [String: Double] {
        let classes = probabilities.columns
        let predicted = probabilities.argmaxRows()
        let rows = labels.indices.filter { labels[$0] >= 0 && Int(labels[$0]) < classes }
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var logLoss = 0.0
        for row in rows {
            let truth = Int(labels[row])
            confusion[truth][predicted[row]] += 1
            logLoss -= log(max(Double(probabilities[row, truth]), 1e-15))
        }
        let count = Double(max(rows.count, 1))
        var metrics: [String: Double] = [
            "accuracy": Double((0..<classes).map { confusion[$0][$0] }.reduce(0, +)) / count,
            "log_loss": logLoss / count,
            "rows": Double(rows.count),
        ]
        var precisions: [Double] = []
        var recalls: [Double] = []
        var f1s: [Double] = []
        for k in 0..<classes {
            let truePositives = Double(confusion[k][k])
            let predictedK = Double((0..<classes).map { confusion[$0][k] }.reduce(0, +))
            let actualK = Double(confusion[k].reduce(0, +))
            let precision = predictedK > 0 ? truePositives / predictedK : 0
            let recall = actualK > 0 ? truePositives / actualK : 0
            precisions.append(precision)
            recalls.append(recall)
            f1s.append(precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0)
            for j in 0..<classes { metrics["confusion_\(k)_\(j)"] = Double(confusion[k][j]) }
        }
        metrics["precision_macro"] = precisions.reduce(0, +) / Double(max(classes, 1))
        metrics["recall_macro"] = recalls.reduce(0, +) / Double(max(classes, 1))
        metrics["f1_macro"] = f1s.reduce(0, +) / Double(max(classes, 1))
        if classes == 2 {
            metrics["roc_auc"] = rocAUC(scores: rows.map { Double(probabilities[$0, 1]) }, positives: rows.map { labels[$0] == 1 })
        }
        return metrics
    }

    /// The area under the ROC curve: the chance that a positive scores above a negative, ties
    /// counting half (the Mann-Whitney statistic, from ranks).
    static func rocAUC(scores: [Double], positives: [Bool]) -> Double {
        let positiveCount = positives.count { $0 }
        let negativeCount = positives.count - positiveCount
        guard positiveCount > 0, negativeCount > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, scores[order[end + 1]] == scores[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for index in start...end { ranks[order[index]] = rank }
            start = end + 1
        }
        let positiveRanks = zip(ranks, positives).filter(\.1).map(\.0).reduce(0, +)
        return (positiveRanks - Double(positiveCount * (positiveCount + 1)) / 2) / Double(positiveCount * negativeCount)
    }

    /// RMSE, MAE and R².
    public static func regression(predictions: [Double], targets: [Double]) -> [String: Double] {
        let count = Double(max(targets.count, 1))
        let mean = targets.reduce(0, +) / count
        var squared = 0.0
        var absolute = 0.0
        var total = 0.0
        for (prediction, target) in zip(predictions, targets) {
            squared += (prediction - target) * (prediction - target)
            absolute += abs(prediction - target)
            total += (target - mean) * (target - mean)
        }
        return [
            "rmse": (squared / count).squareRoot(),
            "mae": absolute / count,
            "r2": total > 0 ? 1 - squared / total : 0,
            "rows": Double(targets.count),
        ]
    }

    /// The metrics as the JSON a `metrics` artifact holds: keys sorted, numbers in shortest form,
    /// non-finite values left out.
    public static func json(_ metrics: [String: Double]) -> String {
        let members = metrics.keys.sorted().compactMap { key -> String? in
            guard let value = metrics[key], value.isFinite else { return nil }
            return "\"\(key)\": \(value)"
        }
        return "{" + members.joined(separator: ", ") + "}\n"
    }

    /// Reads a metrics file: a JSON object whose values are numbers.
    public static func read(_ path: String) throws -> [String: Double] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MetricsError(path: path, message: "cannot be read: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode([String: Double].self, from: data)
        } catch {
            throw MetricsError(path: path, message: "is not a JSON object whose values are numbers")
        }
    }
}

public struct MetricsError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
