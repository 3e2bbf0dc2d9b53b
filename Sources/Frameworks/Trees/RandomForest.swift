public import BlacktailData
import BlacktailNumerics

/// A random forest: decision trees grown on bootstrap samples of the rows, each split searching a
/// random subset of the features, their leaf distributions (or values) averaged.
///
/// Trees are grown in parallel, each from its own random stream, derived from `seed` and the
/// tree's index only: the forest is the same, bit for bit, for any number of threads.
public struct RandomForest: Sendable {
    public var trees: Int = 100
    /// Gini for classification and squared error for regression when nil.
    public var criterion: DecisionTreeLearner.Criterion?
    /// √features for classification and all features for regression when nil (scikit-learn's
    /// defaults).
    public var maxFeatures: DecisionTreeLearner.MaxFeatures?
    /// Unlimited (trees grown until their leaves are pure) when nil.
    public var maxDepth: Int?
    public var minSamplesLeaf: Int = 1
    public var minSamplesSplit: Int = 2
    /// Each tree sees a sample of the rows drawn with replacement; without, every tree sees all rows.
    public var bootstrap: Bool = true
    /// The rows each bootstrap sample draws, as a share of the rows (scikit-learn's `max_samples`);
    /// as many as there are rows when nil.
    public var maxSamples: Double?
    /// Bins per feature, 2 to 255.
    public var maxBins: Int = 255
    public var seed: UInt64 = 0
    /// Trees grown at once.
    public var threads: Int = 1

    public init() {}

    /// Grows the forest on the labelled rows of `train`, calling `report` after each tree with the
    /// trees so far (`loss` 0) and, with a validation set, the forest's validation score so far
    /// (accuracy, or the negative mean squared error).
    /// - Throws: ``DatasetError`` for data the trees cannot learn from (no labelled rows, one class,
    ///   a criterion of the other task) or settings out of range; what `report` throws.
    public func fit(
        _ train: Dataset,
        validation: Dataset? = nil,
        file: String = "",
        report: (MultilayerPerceptron.Epoch) throws -> Void = { _ in }
    ) throws -> TreeEnsemble {
        guard trees >= 1 else { throw DatasetError(file: file, "a forest needs at least one tree, not \(trees)") }
        let data = try TreeTrainingData(train, learner: "a random forest", file: file)
        let draws = try drawCount(rows: data.rows.count, file: file)
        let grower = try DecisionTreeLearner.grower(
            train, data: data, criterion: criterion, maxDepth: maxDepth, minSamplesLeaf: minSamplesLeaf,
            minSamplesSplit: minSamplesSplit, maxFeatures: maxFeatures ?? (data.task == .classification ? .sqrt : .all),
            maxBins: maxBins, seed: seed, threads: threads, file: file
        )
        let validationData = try validation.map { dataset throws(DatasetError) in
            try TreeValidationData(dataset, like: data, featureCount: train.featureCount, file: file)
        }
        let outputs = data.outputCount
        var validationSums = [Double](repeating: 0, count: (validationData?.rowCount ?? 0) * outputs)
        var grown = [DecisionTree?](repeating: nil, count: trees)
        var done = 0
        let seed = seed
        let bootstrap = bootstrap
        let rowCount = data.rows.count
        while done < trees {
            // Waves of trees, so that `report` runs between them on this thread; several trees per
            // thread in each, so that threads seldom wait for the slowest.
            let wave = done..<min(trees, done + max(1, threads) * 8)
            grown.withUnsafeMutableBufferPointer { pointer in
                nonisolated(unsafe) let treesOut = pointer
                TreeParallel.forEachIndex(wave.count, threads: threads) { offset in
                    let index = wave.lowerBound + offset
                    var random = SeededRandom(seed: TreeRandom.seed(seed, tree: index))
                    let weights = bootstrap
                        ? Self.bootstrapWeights(rows: rowCount, draws: draws, random: &random)
                        : [Int32](repeating: 1, count: rowCount)
                    treesOut[index] = grower.grow(weights: weights, random: &random)
                }
            }
            for index in wave {
                var score: Double?
                if let validationData {
                    let tree = grown[index]!
                    validationData.features.withUnsafeBufferPointer { features in
                        tree.forEachLeaf(features.baseAddress!, rows: 0..<validationData.rowCount, width: train.featureCount) { row, leaf in
                            for output in 0..<outputs { validationSums[row * outputs + output] += Double(tree.values[leaf * outputs + output]) }
                        }
                    }
                    let count = Double(index + 1)
                    score = validationData.score(validationSums.map { $0 / count }, width: outputs)
                }
                try report(MultilayerPerceptron.Epoch(epoch: index + 1, loss: 0, validationScore: score))
            }
            done = wave.upperBound
        }
        return TreeEnsemble(
            kind: .forest, task: data.task, outputCount: outputs, trees: grown.map { $0! },
            baseline: [Float](repeating: 0, count: outputs)
        )
    }

    /// The out-of-bag score of `model`, a forest these settings grew on `train`: each labelled row
    /// predicted by the trees whose bootstrap sample left it out (the samples are drawn again from
    /// the seed), scored over the rows that at least one tree left out. Accuracy for
    /// classification, R² for regression, as scikit-learn's `oob_score_`.
    /// - Throws: ``DatasetError`` when `train` is not data the forest could have been grown on, or
    ///   the forest was grown without bootstrap samples.
    public func outOfBagScore(of model: TreeEnsemble, on train: Dataset, file: String = "") throws(DatasetError) -> Double {
        guard bootstrap else { throw DatasetError(file: file, "without bootstrap samples, no row is out of bag") }
        let data = try TreeTrainingData(train, learner: "a random forest", file: file)
        guard model.kind == .forest, model.task == data.task, model.outputCount == data.outputCount,
            model.requiredFeatureCount <= train.featureCount
        else {
            throw DatasetError(file: file, "the model is not a forest grown on this data")
        }
        let rowCount = data.rows.count
        let draws = try drawCount(rows: rowCount, file: file)
        let words = (rowCount + 63) / 64
        // One bit per row and tree: whether the tree's sample drew the row.
        var inBag = [UInt64](repeating: 0, count: model.trees.count * words)
        for tree in model.trees.indices {
            var random = SeededRandom(seed: TreeRandom.seed(seed, tree: tree))
            let weights = Self.bootstrapWeights(rows: rowCount, draws: draws, random: &random)
            for row in 0..<rowCount where weights[row] > 0 { inBag[tree * words + row / 64] |= 1 << UInt64(row % 64) }
        }
        let outputs = model.outputCount
        let width = train.featureCount
        var sums = [Double](repeating: 0, count: rowCount * outputs)
        var votes = [Int](repeating: 0, count: rowCount)
        let rows = data.rows
        sums.withUnsafeMutableBufferPointer { sumPointer in
            votes.withUnsafeMutableBufferPointer { votePointer in
                nonisolated(unsafe) let sumsOut = sumPointer
                nonisolated(unsafe) let votesOut = votePointer
                let bits = inBag
                // Each part writes only its own rows.
                Parallel.forEachPart(rowCount, parts: threads) { _, range in
                    train.features.withUnsafeBufferPointer { features in
                        for (index, tree) in model.trees.enumerated() {
                            for position in range where bits[index * words + position / 64] & (1 << UInt64(position % 64)) == 0 {
                                tree.forEachLeaf(features.baseAddress!, rows: rows[position]..<(rows[position] + 1), width: width) { _, leaf in
                                    for output in 0..<outputs { sumsOut[position * outputs + output] += Double(tree.values[leaf * outputs + output]) }
                                }
                                votesOut[position] += 1
                            }
                        }
                    }
                }
            }
        }
        let scored = (0..<rowCount).filter { votes[$0] > 0 }
        guard !scored.isEmpty else { return .nan }
        if data.task == .classification {
            let correct = scored.count { position in
                let base = position * outputs
                var best = 0
                for output in 1..<outputs where sums[base + output] > sums[base + best] { best = output }
                return best == Int(data.classes[position])
            }
            return Double(correct) / Double(scored.count)
        }
        let predictions = scored.map { sums[$0] / Double(votes[$0]) }
        let targets = scored.map { data.targets[$0] }
        return Metrics.regression(predictions: predictions, targets: targets)["r2"] ?? .nan
    }

    private func drawCount(rows: Int, file: String) throws(DatasetError) -> Int {
        guard let maxSamples else { return rows }
        guard maxSamples > 0, maxSamples <= 1 else { throw DatasetError(file: file, "max samples \(maxSamples) is not a share in (0, 1]") }
        return max(1, Int((Double(rows) * maxSamples).rounded()))
    }

    /// How many times each row is drawn in a bootstrap sample of `draws` rows.
    static func bootstrapWeights(rows: Int, draws: Int, random: inout SeededRandom) -> [Int32] {
        var weights = [Int32](repeating: 0, count: rows)
        for _ in 0..<draws { weights[random.nextIndex(below: rows)] += 1 }
        return weights
    }
}
