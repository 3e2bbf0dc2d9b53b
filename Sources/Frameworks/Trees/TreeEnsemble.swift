import Foundation
public import BlacktailNumerics

/// Trees whose outputs are combined into one model: a random forest (a single decision tree is a
/// forest of one) or gradient-boosted trees.
///
/// - A forest averages its trees' leaf values: class distributions, or values. Each tree has
///   `outputCount` values per node. `baseline` is added to the average (zeros from the learners).
/// - Boosted trees sum raw scores: `baseline` plus, for each tree, its leaf value added to output
///   `index % outputCount`. Each tree has one value per node; a classifier grows one tree per
///   class in each round (as scikit-learn's HistGradientBoostingClassifier does with more than two
///   classes, and here also with two), so the trees come in rounds of `outputCount`. The scores go
///   through a softmax for classification, and are the values for regression.
public struct TreeEnsemble: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case forest
        case boosted
    }

    public enum Task: String, Sendable, CaseIterable {
        case classification
        case regression
    }

    public var kind: Kind
    public var task: Task
    /// Classes (classification) or 1 (regression).
    public var outputCount: Int
    public var trees: [DecisionTree]
    /// Added to the combined trees, one per output.
    public var baseline: [Float]

    /// An ensemble from its parts, as they are; ``validate()`` checks them.
    public init(kind: Kind, task: Task, outputCount: Int, trees: [DecisionTree], baseline: [Float]) {
        self.kind = kind
        self.task = task
        self.outputCount = outputCount
        self.trees = trees
        self.baseline = baseline
    }

    /// The values each tree holds per node: `outputCount` in a forest, 1 in a boosted ensemble.
    public var treeOutputCount: Int { kind == .forest ? outputCount : 1 }

    /// The number of features a row needs: one more than the largest feature index tested.
    public var requiredFeatureCount: Int {
        trees.reduce(0) { count, tree in max(count, Int(tree.feature.max() ?? -1) + 1) }
    }

    /// Checks the trees and that they fit the ensemble: a baseline per output, one output for
    /// regression and two or more for classification, the trees' widths, whole rounds of boosted
    /// trees, and, when `featureCount` is given, only features below it tested.
    /// - Throws: ``TreeValidationError`` naming the first problem found.
    public func validate(featureCount: Int? = nil) throws(TreeValidationError) {
        guard outputCount >= 1 else { throw TreeValidationError("the ensemble has \(outputCount) outputs") }
        switch task {
        case .regression where outputCount != 1:
            throw TreeValidationError("a regression ensemble has 1 output, not \(outputCount)")
        case .classification where outputCount < 2:
            throw TreeValidationError("a classifier has an output per class, at least 2, not \(outputCount)")
        default: break
        }
        guard baseline.count == outputCount else {
            throw TreeValidationError("the baseline has \(baseline.count) values for \(outputCount) outputs")
        }
        guard baseline.allSatisfy(\.isFinite) else { throw TreeValidationError("the baseline has a value that is not a finite number") }
        guard !trees.isEmpty else { throw TreeValidationError("the ensemble has no trees") }
        if kind == .boosted, trees.count % outputCount != 0 {
            throw TreeValidationError("\(trees.count) boosted trees are not whole rounds of \(outputCount)")
        }
        for (index, tree) in trees.enumerated() {
            guard tree.outputCount == treeOutputCount else {
                throw TreeValidationError("tree \(index) has \(tree.outputCount) values per node, not \(treeOutputCount)")
            }
            do {
                try tree.validate(featureCount: featureCount)
            } catch {
                throw TreeValidationError("tree \(index): \(error.message)")
            }
        }
    }

    /// The outputs for each row of `features`: class probabilities (rows x classes) or values
    /// (rows x 1), as ``DenseNetwork/outputs(_:)`` gives them.
    ///
    /// The rows are split over `threads` parts; each row's result does not depend on the split.
    public func outputs(_ features: Matrix, threads: Int = 1) -> Matrix {
        precondition(features.columns >= requiredFeatureCount, "the trees test \(requiredFeatureCount) features; the rows have \(features.columns)")
        var result = Matrix(rows: features.rows, columns: outputCount)
        let width = features.columns
        let outputs = outputCount
        let perTree = treeOutputCount
        let blockRows = 256
        let blocks = (features.rows + blockRows - 1) / blockRows
        result.values.withUnsafeMutableBufferPointer { resultPointer in
            nonisolated(unsafe) let resultOut = resultPointer
            features.values.withUnsafeBufferPointer { source in
                nonisolated(unsafe) let rows = source
                // Each part writes only its own rows.
                Parallel.forEachPart(blocks, parts: threads) { _, blockRange in
                    let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: blockRows * outputs)
                    defer { sums.deallocate() }
                    for block in blockRange {
                        let first = block * blockRows
                        let last = min(features.rows, first + blockRows)
                        sums.update(repeating: 0)
                        // Tree by tree over a block of rows, so that a tree's nodes stay in the cache;
                        // each row still adds its trees up in tree order.
                        for (treeIndex, tree) in trees.enumerated() {
                            let column = kind == .forest ? 0 : treeIndex % outputs
                            tree.values.withUnsafeBufferPointer { values in
                                tree.forEachLeaf(rows.baseAddress!, rows: first..<last, width: width) { row, leaf in
                                    let base = (row - first) * outputs + column
                                    for output in 0..<perTree { sums[base + output] += Double(values[leaf * perTree + output]) }
                                }
                            }
                        }
                        for row in first..<last {
                            let base = (row - first) * outputs
                            let rowSums = UnsafeMutableBufferPointer(rebasing: sums[base..<(base + outputs)])
                            finish(rowSums)
                            for output in 0..<outputs { resultOut[row * outputs + output] = Float(rowSums[output]) }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Turns one row's summed tree values into its outputs, in place.
    func finish(_ sums: UnsafeMutableBufferPointer<Double>) {
        switch kind {
        case .forest:
            let count = Double(max(trees.count, 1))
            for output in sums.indices { sums[output] = sums[output] / count + Double(baseline[output]) }
        case .boosted:
            for output in sums.indices { sums[output] += Double(baseline[output]) }
            if task == .classification { Self.softmax(sums) }
        }
    }

    /// The softmax of raw scores, in place, in double precision.
    static func softmax(_ scores: UnsafeMutableBufferPointer<Double>) {
        var largest = -Double.infinity
        for score in scores { largest = max(largest, score) }
        var total = 0.0
        for index in scores.indices {
            let value = Foundation.exp(scores[index] - largest)
            scores[index] = value
            total += value
        }
        for index in scores.indices { scores[index] /= total }
    }
}
