public import BlacktailData
import Foundation
import BlacktailNumerics

/// Gradient-boosted trees on binned features, after scikit-learn's HistGradientBoosting: each
/// round fits a tree to the gradient and hessian of the loss at the current scores (cross-entropy
/// over a softmax for classification, one tree per class per round; squared error for
/// regression), grown best-first up to `maxLeafNodes` leaves from histograms of the gradients and
/// hessians, its leaves the Newton step shrunk by the learning rate.
///
/// Nothing is random unless there are more than 200,000 rows, when `seed` draws the rows the bins
/// are taken from; the model is the same, bit for bit, for any number of threads.
public struct GradientBoostedTrees: Sendable {
    /// Rounds (trees per output) at most.
    public var iterations: Int = 100
    public var learningRate: Double = 0.1
    /// Leaves per tree at most.
    public var maxLeafNodes: Int = 31
    /// Unlimited when nil.
    public var maxDepth: Int?
    /// Rows a leaf keeps at least.
    public var minSamplesLeaf: Int = 20
    /// The L2 penalty on leaf values.
    public var l2: Double = 0
    /// Bins per feature, 2 to 255.
    public var maxBins: Int = 255
    /// With a validation set, training stops when none of the last `patience` rounds brought the
    /// validation loss more than `tolerance` below what it was before them (scikit-learn's
    /// `n_iter_no_change` and `tol`); the rounds grown so far are kept.
    public var patience: Int = 10
    public var tolerance: Double = 1e-7
    public var seed: UInt64 = 0
    /// Threads for the histograms (split over the features) and the gradients (over the rows).
    public var threads: Int = 1

    public init() {}

    /// Boosts on the labelled rows of `train`, calling `report` after each round with the rounds so
    /// far, the training loss (mean cross-entropy, or mean squared error) and, with a validation
    /// set, the validation score (accuracy, or the negative mean squared error).
    /// - Throws: ``DatasetError`` for data the trees cannot learn from (no labelled rows, one class)
    ///   or settings out of range; what `report` throws.
    public func fit(
        _ train: Dataset,
        validation: Dataset? = nil,
        file: String = "",
        report: (MultilayerPerceptron.Epoch) throws -> Void = { _ in }
    ) throws -> TreeEnsemble {
        guard iterations >= 1 else { throw DatasetError(file: file, "boosting needs at least one iteration, not \(iterations)") }
        guard learningRate > 0, learningRate.isFinite else { throw DatasetError(file: file, "learning rate \(learningRate) is not a positive number") }
        guard maxLeafNodes >= 2 else { throw DatasetError(file: file, "max leaf nodes \(maxLeafNodes) is below 2") }
        guard maxDepth.map({ $0 >= 1 }) ?? true else { throw DatasetError(file: file, "max depth \(maxDepth!) is not a positive number") }
        guard minSamplesLeaf >= 1 else { throw DatasetError(file: file, "min samples per leaf \(minSamplesLeaf) is not a positive number") }
        guard l2 >= 0, l2.isFinite else { throw DatasetError(file: file, "l2 \(l2) is not a non-negative number") }
        guard (2...255).contains(maxBins) else { throw DatasetError(file: file, "max bins \(maxBins) is not between 2 and 255") }
        guard patience >= 1 else { throw DatasetError(file: file, "patience \(patience) is not a positive number") }

        let data = try TreeTrainingData(train, learner: "gradient boosting", file: file)
        let validationData = try validation.map { dataset throws(DatasetError) in
            try TreeValidationData(dataset, like: data, featureCount: train.featureCount, file: file)
        }
        let bins = BinnedFeatures(train, rows: data.rows, maxBins: maxBins, seed: seed, threads: threads)
        let grower = HistogramTreeGrower(bins: bins, settings: .init(
            maxLeafNodes: maxLeafNodes, maxDepth: maxDepth ?? .max, minSamplesLeaf: minSamplesLeaf,
            l2: l2, learningRate: learningRate, threads: max(1, threads)
        ))
        let rowCount = data.rows.count
        let outputs = data.outputCount
        let baseline = Self.baseline(data)
        // Scores in double precision, each tree's Float leaf value added as the model adds it.
        var scores = [Double](repeating: 0, count: rowCount * outputs)
        for row in 0..<rowCount {
            for output in 0..<outputs { scores[row * outputs + output] = Double(baseline[output]) }
        }
        let validationRows = validationData?.rowCount ?? 0
        var validationScores = [Double](repeating: 0, count: validationRows * outputs)
        for row in 0..<validationRows {
            for output in 0..<outputs { validationScores[row * outputs + output] = Double(baseline[output]) }
        }
        var gradients = [Float](repeating: 0, count: rowCount * outputs)
        var hessians = [Float](repeating: 0, count: rowCount * outputs)
        var history: [Double] = []
        if let validationData { history.append(-Self.loss(validationScores, validationData, outputs: outputs)) }
        var trees: [DecisionTree] = []
        _ = computeGradients(data, scores: scores, gradients: &gradients, hessians: &hessians)

        for round in 1...iterations {
            for output in 0..<outputs {
                let (tree, leaves) = gradients.withUnsafeBufferPointer { g in
                    hessians.withUnsafeBufferPointer { h in
                        grower.grow(gradients: g.baseAddress! + output * rowCount, hessians: h.baseAddress! + output * rowCount)
                    }
                }
                scores.withUnsafeMutableBufferPointer { scores in
                    for (node, range) in leaves {
                        let value = Double(tree.values[node])
                        for position in range { scores[Int(grower.rows[position]) * outputs + output] += value }
                    }
                }
                if let validationData {
                    validationData.features.withUnsafeBufferPointer { features in
                        tree.forEachLeaf(features.baseAddress!, rows: 0..<validationRows, width: train.featureCount) { row, leaf in
                            validationScores[row * outputs + output] += Double(tree.values[leaf])
                        }
                    }
                }
                trees.append(tree)
            }
            let loss = computeGradients(data, scores: scores, gradients: &gradients, hessians: &hessians)
            var stop = false
            var score: Double?
            if let validationData {
                score = validationData.score(validationScores, width: outputs)
                history.append(-Self.loss(validationScores, validationData, outputs: outputs))
                if history.count > patience {
                    let reference = history[history.count - patience - 1] + tolerance
                    stop = !history.suffix(patience).contains { $0 > reference }
                }
            }
            try report(MultilayerPerceptron.Epoch(epoch: round, loss: loss, validationScore: score))
            if stop { break }
        }
        return TreeEnsemble(kind: .boosted, task: data.task, outputCount: outputs, trees: trees, baseline: baseline)
    }

    /// The scores before any tree: the mean target, or the log of each class's share (clipped away
    /// from 0 and 1, centred), as scikit-learn starts.
    static func baseline(_ data: TreeTrainingData) -> [Float] {
        if data.task == .regression {
            return [Float(data.targets.reduce(0, +) / Double(data.targets.count))]
        }
        var counts = [Double](repeating: 0, count: data.classCount)
        for id in data.classes { counts[Int(id)] += 1 }
        let epsilon = Double.ulpOfOne
        let logs = counts.map { Foundation.log(min(max($0 / Double(data.classes.count), epsilon), 1 - epsilon)) }
        let mean = logs.reduce(0, +) / Double(logs.count)
        return logs.map { Float($0 - mean) }
    }

    /// Each row's gradient and hessian of the loss for each output (output-major), from the
    /// scores; returns the mean loss.
    private func computeGradients(_ data: TreeTrainingData, scores: [Double], gradients: inout [Float], hessians: inout [Float]) -> Double {
        let rowCount = data.rows.count
        let outputs = data.outputCount
        let classification = data.task == .classification
        return gradients.withUnsafeMutableBufferPointer { gradientPointer in
            hessians.withUnsafeMutableBufferPointer { hessianPointer in
                scores.withUnsafeBufferPointer { scorePointer in
                    data.classes.withUnsafeBufferPointer { classPointer in
                        data.targets.withUnsafeBufferPointer { targetPointer in
                            nonisolated(unsafe) let g = gradientPointer
                            nonisolated(unsafe) let h = hessianPointer
                            nonisolated(unsafe) let s = scorePointer
                            nonisolated(unsafe) let classes = classPointer
                            nonisolated(unsafe) let targets = targetPointer
                            // Each block writes only its own rows.
                            let total = TreeParallel.blockSum(rowCount, threads: threads) { range in
                                var loss = 0.0
                                if !classification {
                                    for row in range {
                                        let delta = s[row] - targets[row]
                                        g[row] = Float(delta)
                                        h[row] = 1
                                        loss += delta * delta
                                    }
                                    return loss
                                }
                                let probabilities = UnsafeMutableBufferPointer<Double>.allocate(capacity: outputs)
                                defer { probabilities.deallocate() }
                                for row in range {
                                    for output in 0..<outputs { probabilities[output] = s[row * outputs + output] }
                                    TreeEnsemble.softmax(probabilities)
                                    let truth = Int(classes[row])
                                    loss -= Foundation.log(max(probabilities[truth], 1e-300))
                                    for output in 0..<outputs {
                                        let p = probabilities[output]
                                        g[output * rowCount + row] = Float(output == truth ? p - 1 : p)
                                        h[output * rowCount + row] = Float(p * (1 - p))
                                    }
                                }
                                return loss
                            }
                            return total / Double(max(rowCount, 1))
                        }
                    }
                }
            }
        }
    }

    /// The validation loss early stopping watches: mean cross-entropy, or mean squared error.
    private static func loss(_ scores: [Double], _ validation: TreeValidationData, outputs: Int) -> Double {
        guard validation.rowCount > 0 else { return 0 }
        var total = 0.0
        if validation.classes.isEmpty {
            for row in 0..<validation.rowCount {
                let delta = scores[row] - validation.targets[row]
                total += delta * delta
            }
        } else {
            var probabilities = [Double](repeating: 0, count: outputs)
            for row in 0..<validation.rowCount {
                for output in 0..<outputs { probabilities[output] = scores[row * outputs + output] }
                probabilities.withUnsafeMutableBufferPointer { TreeEnsemble.softmax($0) }
                total -= Foundation.log(max(probabilities[Int(validation.classes[row])], 1e-300))
            }
        }
        return total / Double(validation.rowCount)
    }
}
