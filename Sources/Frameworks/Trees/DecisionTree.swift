/// A fitted decision tree, as flat arrays indexed by node; node 0 is the root.
///
/// An internal node sends a row to `left[i]` when the row's value of `feature[i]` is at most
/// `threshold[i]`, and to `right[i]` otherwise (NaN goes right). A leaf has `feature[i] == -1`.
/// Every node, leaf or not, has `outputCount` values in `values`, at `i * outputCount`: the class
/// distribution of its training rows (classification forests), or its value (regression, and each
/// tree of a boosted ensemble). Children come after their parent, the order every learner here
/// writes and ``validate()`` requires, so a walk from the root always ends at a leaf.
public struct DecisionTree: Sendable, Equatable {
    /// The feature each node tests, or -1 for a leaf.
    public var feature: [Int32]
    public var threshold: [Float]
    /// The children of internal nodes; -1 for leaves.
    public var left: [Int32]
    public var right: [Int32]
    /// `outputCount` values per node, node after node.
    public var values: [Float]
    public var outputCount: Int

    /// A tree from its arrays, as they are; ``validate()`` checks them (a checkpoint may be corrupt).
    public init(feature: [Int32], threshold: [Float], left: [Int32], right: [Int32], values: [Float], outputCount: Int) {
        self.feature = feature
        self.threshold = threshold
        self.left = left
        self.right = right
        self.values = values
        self.outputCount = outputCount
    }

    /// A tree of one leaf.
    public init(leaf values: [Float]) {
        self.init(feature: [-1], threshold: [0], left: [-1], right: [-1], values: values, outputCount: values.count)
    }

    public var nodeCount: Int { feature.count }
    public var leafCount: Int { feature.count { $0 < 0 } }

    /// The largest number of splits from the root to a leaf.
    public var depth: Int {
        var depths = [Int](repeating: 0, count: nodeCount)
        var deepest = 0
        for node in 0..<nodeCount where feature[node] >= 0 {
            for child in [Int(left[node]), Int(right[node])] {
                depths[child] = depths[node] + 1
                deepest = max(deepest, depths[child])
            }
        }
        return deepest
    }

    /// The values of node `index`.
    public func values(ofNode index: Int) -> ArraySlice<Float> {
        values[(index * outputCount)..<((index + 1) * outputCount)]
    }

    /// The leaf a row of features ends in; the row has every feature the tree tests.
    public func leaf(for row: some Collection<Float>) -> Int {
        let features = Array(row)
        var node = 0
        while feature[node] >= 0 {
            node = Int(features[Int(feature[node])] <= threshold[node] ? left[node] : right[node])
        }
        return node
    }

    /// Checks that the arrays make a tree: the same number of nodes in each, `outputCount` values
    /// per node, children after their parent and each node but the root the child of exactly one
    /// node, no NaN threshold, only finite values, and, when `featureCount` is given, only features
    /// below it tested.
    /// - Throws: ``TreeValidationError`` naming the first problem found.
    public func validate(featureCount: Int? = nil) throws(TreeValidationError) {
        let count = feature.count
        guard count > 0 else { throw TreeValidationError("the tree has no nodes") }
        guard threshold.count == count, left.count == count, right.count == count else {
            throw TreeValidationError(
                "the node arrays differ in length: \(count) features, \(threshold.count) thresholds, \(left.count) left and \(right.count) right children"
            )
        }
        guard outputCount >= 1 else { throw TreeValidationError("a node has \(outputCount) values; it needs at least one") }
        guard values.count == count * outputCount else {
            throw TreeValidationError("\(values.count) values are not \(outputCount) for each of \(count) nodes")
        }
        var parents = [Int32](repeating: 0, count: count)
        for node in 0..<count {
            let tested = feature[node]
            if tested == -1 {
                guard left[node] == -1, right[node] == -1 else { throw TreeValidationError("leaf \(node) has children") }
                continue
            }
            guard tested >= 0, Int(tested) < featureCount ?? .max else {
                throw TreeValidationError("node \(node) tests feature \(tested)\(featureCount.map { ", but there are \($0) features" } ?? "")")
            }
            guard !threshold[node].isNaN else { throw TreeValidationError("node \(node) has a NaN threshold") }
            for child in [left[node], right[node]] {
                guard child > node, child < count else {
                    throw TreeValidationError("node \(node) has child \(child), which is not a node after it (there are \(count) nodes)")
                }
                parents[Int(child)] += 1
            }
        }
        if let orphan = (1..<count).first(where: { parents[$0] != 1 }) {
            throw TreeValidationError("node \(orphan) is the child of \(parents[orphan]) nodes, not of one")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw TreeValidationError("node \(bad / outputCount) has a value that is not a finite number")
        }
    }

    /// The leaf a row ends in, the row given by a pointer to its first feature.
    @inline(__always)
    func leaf(
        for row: UnsafePointer<Float>,
        feature: UnsafePointer<Int32>, threshold: UnsafePointer<Float>, left: UnsafePointer<Int32>, right: UnsafePointer<Int32>
    ) -> Int {
        var node = 0
        while true {
            let tested = feature[node]
            if tested < 0 { return node }
            node = Int(row[Int(tested)] <= threshold[node] ? left[node] : right[node])
        }
    }

    /// Calls `body` with the leaf of each of `rowCount` rows of `features` (row-major, `width` wide),
    /// in order.
    func forEachLeaf(_ features: UnsafePointer<Float>, rows: Range<Int>, width: Int, _ body: (_ row: Int, _ leaf: Int) -> Void) {
        feature.withUnsafeBufferPointer { feature in
            threshold.withUnsafeBufferPointer { threshold in
                left.withUnsafeBufferPointer { left in
                    right.withUnsafeBufferPointer { right in
                        for row in rows {
                            body(row, leaf(
                                for: features + row * width,
                                feature: feature.baseAddress!, threshold: threshold.baseAddress!,
                                left: left.baseAddress!, right: right.baseAddress!
                            ))
                        }
                    }
                }
            }
        }
    }
}

/// Why a tree or an ensemble's arrays do not make a model.
public struct TreeValidationError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
