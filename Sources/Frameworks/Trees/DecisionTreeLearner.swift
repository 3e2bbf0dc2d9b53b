public import BlacktailData
import Foundation
import BlacktailNumerics

/// A single decision tree (CART) grown depth-first on binned features: each node is split at the
/// bin edge that most reduces the impurity, searched exhaustively over the bins of its features.
/// The result is a forest of one tree (``TreeEnsemble``).
public struct DecisionTreeLearner: Sendable {
    /// What a split minimises.
    public enum Criterion: String, Sendable, CaseIterable {
        /// Gini impurity (classification).
        case gini
        /// Entropy (classification).
        case entropy
        /// Squared error (regression).
        case squaredError = "squared_error"
    }

    /// How many features each split searches.
    public enum MaxFeatures: Sendable, Equatable {
        case all
        /// √features, rounded down, at least 1.
        case sqrt
        /// log₂ features, rounded down, at least 1.
        case log2
        /// This many, at most all.
        case count(Int)
        /// This share of the features, rounded down, at least 1.
        case fraction(Double)

        /// The number of features for `featureCount` features.
        /// - Throws: ``DatasetError`` for a count below 1 or a fraction outside (0, 1].
        public func resolve(featureCount: Int, file: String = "") throws(DatasetError) -> Int {
            switch self {
            case .all:
                return featureCount
            case .sqrt:
                return max(1, Int(Double(featureCount).squareRoot()))
            case .log2:
                return max(1, Int(Foundation.log2(Double(featureCount))))
            case .count(let count):
                guard count >= 1 else { throw DatasetError(file: file, "max features \(count) is not a positive count") }
                return min(count, featureCount)
            case .fraction(let fraction):
                guard fraction > 0, fraction <= 1 else { throw DatasetError(file: file, "max features \(fraction) is not a fraction in (0, 1]") }
                return max(1, Int(fraction * Double(featureCount)))
            }
        }
    }

    /// Gini for classification and squared error for regression when nil.
    public var criterion: Criterion?
    /// Unlimited when nil.
    public var maxDepth: Int?
    /// Rows a leaf keeps at least.
    public var minSamplesLeaf: Int = 1
    /// Rows a node needs to be split.
    public var minSamplesSplit: Int = 2
    public var maxFeatures: MaxFeatures = .all
    /// Bins per feature, 2 to 255.
    public var maxBins: Int = 255
    /// Draws the order the features are searched in (which matters on ties, and with fewer than all
    /// features), and the rows the bins are taken from beyond 200,000 rows.
    public var seed: UInt64 = 0
    /// Threads for binning the features; the tree does not depend on it.
    public var threads: Int = 1

    public init() {}

    /// Grows the tree on the labelled rows of `train`; reports once, with the validation score
    /// (accuracy, or the negative mean squared error) when there is a validation set.
    /// - Throws: ``DatasetError`` for data a tree cannot learn from (no labelled rows, one class, a
    ///   criterion of the other task), or settings out of range; what `report` throws.
    public func fit(
        _ train: Dataset,
        validation: Dataset? = nil,
        file: String = "",
        report: (MultilayerPerceptron.Epoch) throws -> Void = { _ in }
    ) throws -> TreeEnsemble {
        let data = try TreeTrainingData(train, learner: "a decision tree", file: file)
        let grower = try Self.grower(
            train, data: data, criterion: criterion, maxDepth: maxDepth, minSamplesLeaf: minSamplesLeaf,
            minSamplesSplit: minSamplesSplit, maxFeatures: maxFeatures, maxBins: maxBins, seed: seed, threads: threads, file: file
        )
        let validationData = try validation.map { dataset throws(DatasetError) in
            try TreeValidationData(dataset, like: data, featureCount: train.featureCount, file: file)
        }
        var random = SeededRandom(seed: TreeRandom.seed(seed, tree: 0))
        let tree = grower.grow(weights: [Int32](repeating: 1, count: data.rows.count), random: &random)
        let model = TreeEnsemble(
            kind: .forest, task: data.task, outputCount: data.outputCount, trees: [tree],
            baseline: [Float](repeating: 0, count: data.outputCount)
        )
        let score = validationData.map { validation in
            validation.score(model.outputs(Matrix(rows: validation.rowCount, columns: train.featureCount, values: validation.features)).values.map(Double.init), width: data.outputCount)
        }
        try report(MultilayerPerceptron.Epoch(epoch: 1, loss: 0, validationScore: score))
        return model
    }

    /// The grower for these settings, with the features binned.
    /// - Throws: ``DatasetError`` for settings out of range or a criterion of the other task.
    static func grower(
        _ train: Dataset, data: TreeTrainingData, criterion: Criterion?, maxDepth: Int?, minSamplesLeaf: Int, minSamplesSplit: Int,
        maxFeatures: MaxFeatures, maxBins: Int, seed: UInt64, threads: Int, file: String
    ) throws(DatasetError) -> ExhaustiveTreeGrower {
        let chosen = criterion ?? (data.task == .classification ? .gini : .squaredError)
        guard (chosen == .squaredError) == (data.task == .regression) else {
            throw DatasetError(
                file: file,
                "the \(chosen.rawValue) criterion is for \(chosen == .squaredError ? "regression" : "classification"), but the targets are \(data.task == .regression ? "numbers" : "classes")"
            )
        }
        guard maxDepth.map({ $0 >= 1 }) ?? true else { throw DatasetError(file: file, "max depth \(maxDepth!) is not a positive number") }
        guard minSamplesLeaf >= 1 else { throw DatasetError(file: file, "min samples per leaf \(minSamplesLeaf) is not a positive number") }
        guard minSamplesSplit >= 2 else { throw DatasetError(file: file, "min samples to split \(minSamplesSplit) is below 2") }
        guard (2...255).contains(maxBins) else { throw DatasetError(file: file, "max bins \(maxBins) is not between 2 and 255") }
        let featuresPerSplit = try maxFeatures.resolve(featureCount: train.featureCount, file: file)
        let bins = BinnedFeatures(train, rows: data.rows, maxBins: maxBins, seed: seed, threads: threads)
        return ExhaustiveTreeGrower(
            bins: bins, data: data, criterion: chosen, maxDepth: maxDepth ?? .max,
            minSamplesLeaf: minSamplesLeaf, minSamplesSplit: minSamplesSplit, featuresPerSplit: featuresPerSplit
        )
    }
}
