public import BlacktailData
import Foundation
public import BlacktailNumerics

/// Label propagation: labels spread from the labelled rows (target ≥ 0) to the unlabelled ones
/// (target -1) along a similarity graph over all the rows, the labelled rows held at their labels,
/// until the label distributions stop changing.
///
/// The graph is the rows' k nearest neighbours (made symmetric: i and j are linked when either is
/// among the other's neighbours), or a Gaussian kernel exp(−γ‖xᵢ − xⱼ‖²) over every pair. Each step
/// replaces a row's label distribution by the weighted mean of its neighbours', then puts the
/// labelled rows back: the iteration of Zhu and Ghahramani (2002), as in scikit-learn's
/// `LabelPropagation`.
public struct LabelPropagation: Sendable {
    public enum Kernel: String, Sendable, CaseIterable {
        case knn
        case rbf
    }

    public var kernel: Kernel = .knn
    /// Neighbours per row for the `knn` graph.
    public var neighbors: Int = 7
    /// The Gaussian kernel's γ; nil takes 1 / (features × the features' mean variance).
    public var gamma: Double?
    public var maximumIterations: Int = 1000
    /// The iteration stops when no label probability changes by more than this.
    public var tolerance: Double = 1e-3
    /// Parts the distance computations are split into.
    public var threads: Int = 1

    /// The `rbf` graph is dense: N² weights. Larger sets must use `knn`.
    public static let largestDenseGraph = 20_000

    public init() {}

    /// Propagates the labels of `dataset` to its unlabelled rows.
    /// - Returns: the model (which also labels new rows, from the training rows nearest to them),
    ///   and the iterations it took.
    /// - Throws: ``DatasetError`` when the dataset is not classification data with at least one
    ///   labelled row, or is too large for the `rbf` graph.
    public func fit(_ dataset: Dataset, file: String = "") throws(DatasetError) -> (model: LabelPropagationModel, iterations: Int) {
        guard let ids = dataset.classIDs, !dataset.classes.isEmpty, dataset.task != .regression else {
            throw DatasetError(file: file, "label propagation needs classification data, but the dataset is \(dataset.task.rawValue)")
        }
        guard ids.contains(where: { $0 >= 0 }) else {
            throw DatasetError(file: file, "label propagation needs some labelled rows; every target is -1")
        }
        let rows = dataset.rowCount
        if kernel == .rbf, rows > Self.largestDenseGraph {
            throw DatasetError(file: file, "the rbf graph of \(rows) rows is too large (more than \(Self.largestDenseGraph)); use kernel: knn")
        }
        let features = dataset.featureMatrix
        let classes = dataset.classes.count
        let model = LabelPropagationModel(
            kernel: kernel, neighbors: min(neighbors, max(rows - 1, 1)), gamma: gamma ?? Self.defaultGamma(features),
            features: features, distributions: Matrix(rows: rows, columns: classes)
        )
        let graph = model.graph(threads: threads)
        // Distributions in double precision; labelled rows start and stay one-hot, the others start
        // at zero (nothing known).
        var current = [Double](repeating: 0, count: rows * classes)
        for (row, id) in ids.enumerated() where id >= 0 { current[row * classes + Int(id)] = 1 }
        var next = current
        var iterations = 0
        while iterations < maximumIterations {
            iterations += 1
            var largestChange = 0.0
            for row in 0..<rows {
                let base = row * classes
                if ids[row] >= 0 { continue }
                for k in 0..<classes { next[base + k] = 0 }
                var total = 0.0
                for (neighbor, weight) in graph[row] {
                    let source = neighbor * classes
                    for k in 0..<classes { next[base + k] += weight * current[source + k] }
                    total += weight
                }
                if total > 0 {
                    for k in 0..<classes { next[base + k] /= total }
                }
                for k in 0..<classes { largestChange = max(largestChange, abs(next[base + k] - current[base + k])) }
            }
            swap(&current, &next)
            if largestChange < tolerance { break }
        }
        // A row the labels never reached (a component with no labelled row) gets the uniform
        // distribution; the others are normalised to sum to one.
        var distributions = Matrix(rows: rows, columns: classes)
        for row in 0..<rows {
            let base = row * classes
            let total = current[base..<(base + classes)].reduce(0, +)
            for k in 0..<classes {
                distributions[row, k] = Float(total > 0 ? current[base + k] / total : 1 / Double(classes))
            }
        }
        var fitted = model
        fitted.distributions = distributions
        return (fitted, iterations)
    }

    static func defaultGamma(_ features: Matrix) -> Double {
        1 / (Double(features.columns) * max(KMeans.meanVariance(features), 1e-12))
    }
}

/// The result of ``LabelPropagation``: the training rows with their propagated label distributions.
/// A new row gets the mean distribution of its nearest training rows (`knn`) or the
/// kernel-weighted mean over all of them (`rbf`).
public struct LabelPropagationModel: Sendable, Equatable {
    public var kernel: LabelPropagation.Kernel
    public var neighbors: Int
    public var gamma: Double
    /// The training rows, as given to the fit.
    public var features: Matrix
    /// One row of class probabilities per training row; the transduction is their argmax.
    public var distributions: Matrix

    public init(kernel: LabelPropagation.Kernel, neighbors: Int, gamma: Double, features: Matrix, distributions: Matrix) {
        self.kernel = kernel
        self.neighbors = neighbors
        self.gamma = gamma
        self.features = features
        self.distributions = distributions
    }

    /// The weighted edges of each training row.
    func graph(threads: Int) -> [[(Int, Double)]] {
        let rows = features.rows
        var graph = [[(Int, Double)]](repeating: [], count: rows)
        switch kernel {
        case .knn:
            // Symmetric: an edge when either row is among the other's nearest (itself excluded).
            let nearest = nearestTrainingRows(to: features, count: neighbors + 1, threads: threads)
            var linked = [Set<Int>](repeating: [], count: rows)
            for row in 0..<rows {
                for neighbor in nearest[row] where neighbor != row {
                    linked[row].insert(neighbor)
                    linked[neighbor].insert(row)
                }
            }
            for row in 0..<rows { graph[row] = linked[row].sorted().map { ($0, 1.0) } }
        case .rbf:
            let distances = squaredDistances(from: features, threads: threads)
            for row in 0..<rows {
                graph[row] = (0..<rows).compactMap { other in
                    guard other != row else { return nil }
                    let weight = exp(-gamma * distances[row * rows + other])
                    return weight > 0 ? (other, weight) : nil
                }
            }
        }
        return graph
    }

    /// Squared distances from each row of `queries` to each training row, row-major.
    private func squaredDistances(from queries: Matrix, threads: Int) -> [Double] {
        let trainingNorms = features.rowSquaredNorms()
        let queryNorms = queries.rowSquaredNorms()
        let columns = features.rows
        var distances = [Double](repeating: 0, count: queries.rows * columns)
        distances.withUnsafeMutableBufferPointer { pointer in
            nonisolated(unsafe) let output = pointer
            Parallel.forEachPart(queries.rows, parts: threads) { _, range in
                let cross = queries.product(ofRows: range, with: features, transposeOther: true)
                for (offset, row) in range.enumerated() {
                    for column in 0..<columns {
                        output[row * columns + column] = max(0, queryNorms[row] - 2 * Double(cross.values[offset * columns + column]) + trainingNorms[column])
                    }
                }
            }
        }
        return distances
    }

    /// The `count` training rows nearest to each query row, nearest first (ties to the lower row).
    private func nearestTrainingRows(to queries: Matrix, count: Int, threads: Int) -> [[Int]] {
        let trainingNorms = features.rowSquaredNorms()
        let queryNorms = queries.rowSquaredNorms()
        let columns = features.rows
        let count = min(count, columns)
        var nearest = [[Int]](repeating: [], count: queries.rows)
        nearest.withUnsafeMutableBufferPointer { pointer in
            nonisolated(unsafe) let output = pointer
            // Blocks of query rows keep the distance matrix small.
            let blocks = stride(from: 0, to: queries.rows, by: 1024).map { $0..<min(queries.rows, $0 + 1024) }
            Parallel.forEachPart(blocks.count, parts: threads) { _, blockRange in
                for block in blocks[blockRange] {
                    let cross = queries.product(ofRows: block, with: features, transposeOther: true)
                    var candidates: [(Double, Int)] = []
                    candidates.reserveCapacity(count + 1)
                    for (offset, row) in block.enumerated() {
                        candidates.removeAll(keepingCapacity: true)
                        for column in 0..<columns {
                            let distance = queryNorms[row] - 2 * Double(cross.values[offset * columns + column]) + trainingNorms[column]
                            if candidates.count == count, let worst = candidates.last, !(distance < worst.0) { continue }
                            let position = candidates.firstIndex { distance < $0.0 } ?? candidates.count
                            candidates.insert((distance, column), at: position)
                            if candidates.count > count { candidates.removeLast() }
                        }
                        output[row] = candidates.map(\.1)
                    }
                }
            }
        }
        return nearest
    }

    public func outputs(_ queries: Matrix) -> Matrix {
        let classes = distributions.columns
        var outputs = Matrix(rows: queries.rows, columns: classes)
        switch kernel {
        case .knn:
            let nearest = nearestTrainingRows(to: queries, count: neighbors, threads: 1)
            for row in 0..<queries.rows {
                for neighbor in nearest[row] {
                    for k in 0..<classes { outputs[row, k] += distributions[neighbor, k] / Float(nearest[row].count) }
                }
            }
        case .rbf:
            let distances = squaredDistances(from: queries, threads: 1)
            let training = features.rows
            for row in 0..<queries.rows {
                var sums = [Double](repeating: 0, count: classes)
                var total = 0.0
                for other in 0..<training {
                    let weight = exp(-gamma * distances[row * training + other])
                    guard weight > 0 else { continue }
                    total += weight
                    for k in 0..<classes { sums[k] += weight * Double(distributions[other, k]) }
                }
                for k in 0..<classes { outputs[row, k] = Float(total > 0 ? sums[k] / total : 1 / Double(classes)) }
            }
        }
        return outputs
    }
}

extension LabelPropagationModel: SupervisedModel {
    public var isClassifier: Bool { true }
    public var outputCount: Int { distributions.columns }
}

/// Self-training: a classifier trained on the labelled rows labels the unlabelled rows it is
/// confident about (probability ≥ `threshold`), is trained again with them, and so on until no row
/// is added or after `maximumIterations` rounds, as scikit-learn's `SelfTrainingClassifier`.
public struct SelfTraining: Sendable {
    public var threshold: Double = 0.75
    public var maximumIterations: Int = 10

    public init() {}

    /// What one round did.
    public struct Round: Sendable {
        public var iteration: Int
        /// Rows given a pseudo-label in this round.
        public var added: Int
        /// Rows with a label (given or pseudo) after it.
        public var labelled: Int
    }

    /// Trains with `train`, which fits the base classifier to a dataset whose unlabelled rows are
    /// -1 (and must be left out by it).
    /// - Returns: the last model, and the number of rows it pseudo-labelled in all.
    /// - Throws: ``DatasetError`` when the dataset is not classification data with labelled rows,
    ///   or when `train` gives a model that is not a classifier; what `train` or `report` throw.
    public func fit(
        _ dataset: Dataset,
        file: String = "",
        train: (Dataset) throws -> TrainedModel,
        report: (Round) throws -> Void = { _ in }
    ) throws -> (model: TrainedModel, pseudoLabelled: Int) {
        guard var ids = dataset.classIDs, dataset.task == .classification else {
            throw DatasetError(file: file, "self-training needs classification data, but the dataset is \(dataset.task.rawValue)")
        }
        guard ids.contains(where: { $0 >= 0 }) else {
            throw DatasetError(file: file, "self-training needs some labelled rows; every target is -1")
        }
        func classifier(_ model: TrainedModel) throws(DatasetError) -> any SupervisedModel {
            guard let classifier = model.supervised, classifier.isClassifier else {
                throw DatasetError(file: file, "self-training needs a classifier as its base, not a \(model.structure) model")
            }
            return classifier
        }
        var current = dataset
        var model = try train(current)
        var pseudoLabelled = 0
        var iteration = 0
        while iteration < maximumIterations {
            let unlabelled = ids.indices.filter { ids[$0] < 0 }
            guard !unlabelled.isEmpty else { break }
            iteration += 1
            let probabilities = try classifier(model).outputs(dataset.featureMatrix.rows(unlabelled))
            let predicted = probabilities.argmaxRows()
            var added = 0
            for (offset, row) in unlabelled.enumerated() where Double(probabilities[offset, predicted[offset]]) >= threshold {
                ids[row] = Int64(predicted[offset])
                added += 1
            }
            pseudoLabelled += added
            try report(Round(iteration: iteration, added: added, labelled: ids.count { $0 >= 0 }))
            guard added > 0 else { break }
            current.targets = .classes(ids)
            model = try train(current)
        }
        return (model, pseudoLabelled)
    }
}
