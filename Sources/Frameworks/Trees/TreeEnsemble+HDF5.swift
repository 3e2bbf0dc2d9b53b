public import HDF5

extension TreeEnsemble {
    /// Writes the ensemble under `group`: the attributes `ensemble` (forest or boosted), `task` and
    /// `output_count`; the dataset `baseline`; and every tree's arrays, concatenated, with
    /// `tree_offsets` (int64, one more than the trees: tree i's nodes are
    /// `tree_offsets[i]..<tree_offsets[i + 1]`), `feature`, `left` and `right` (int32, node indices
    /// counted within their tree), `threshold` (float32) and `values` (float32, nodes x the values
    /// per node: `output_count` in a forest, 1 in a boosted ensemble).
    /// - Throws: ``HDF5Error`` when a part cannot be written.
    public func write(to group: HDF5Group) throws {
        try group.setAttribute("ensemble", .string(kind.rawValue))
        try group.setAttribute("task", .string(task.rawValue))
        try group.setAttribute("output_count", .int(Int64(outputCount)))
        try group.writeDataset("baseline", baseline)
        var offsets: [Int64] = [0]
        for tree in trees { offsets.append(offsets[offsets.count - 1] + Int64(tree.nodeCount)) }
        try group.writeDataset("tree_offsets", offsets)
        try group.writeDataset("feature", trees.flatMap(\.feature))
        try group.writeDataset("threshold", trees.flatMap(\.threshold))
        try group.writeDataset("left", trees.flatMap(\.left))
        try group.writeDataset("right", trees.flatMap(\.right))
        try group.writeDataset("values", trees.flatMap(\.values), shape: [Int(offsets[offsets.count - 1]), treeOutputCount])
    }

    /// Reads an ensemble ``write(to:)`` wrote, checking every part (with `featureCount`, the
    /// number of features the model's inputs have, that no tree tests a feature beyond them): a
    /// corrupt file gives an error naming what is wrong, never a model that fails when used.
    /// - Throws: ``CheckpointError`` (about `path`) naming what is missing or inconsistent, or
    ///   ``HDF5Error`` when the file cannot be read.
    public static func read(from group: HDF5Group, path: String, featureCount: Int? = nil) throws -> TreeEnsemble {
        func fail(_ message: String) -> CheckpointError { CheckpointError(path: path, "\(group.path): \(message)") }
        guard let kind = Kind(rawValue: try group.attribute("ensemble")?.stringValue ?? "") else {
            throw fail("the 'ensemble' attribute is missing or not 'forest' or 'boosted'")
        }
        guard let task = Task(rawValue: try group.attribute("task")?.stringValue ?? "") else {
            throw fail("the 'task' attribute is missing or not 'classification' or 'regression'")
        }
        guard let outputCount = try group.attribute("output_count")?.intValue, (1...Int64(Int32.max)).contains(outputCount) else {
            throw fail("the 'output_count' attribute is missing or not a positive number")
        }
        let outputs = Int(outputCount)

        func dataset(_ name: String, dimensions: Int = 1) throws -> HDF5Dataset {
            guard group.isDataset(name) else { throw fail("has no dataset '\(name)'") }
            let dataset = try group.dataset(name)
            guard dataset.shape.count == dimensions else {
                throw fail("'\(name)' has \(dataset.shape.count) dimensions, not \(dimensions)")
            }
            guard let type = dataset.elementType, type != .string else { throw fail("'\(name)' does not hold numbers") }
            return dataset
        }
        let baseline = try dataset("baseline").read(as: Float.self)
        let offsets = try dataset("tree_offsets").read(as: Int64.self)
        let feature = try dataset("feature").read(as: Int32.self)
        let threshold = try dataset("threshold").read(as: Float.self)
        let left = try dataset("left").read(as: Int32.self)
        let right = try dataset("right").read(as: Int32.self)
        let valuesDataset = try dataset("values", dimensions: 2)
        let nodeCount = feature.count
        guard threshold.count == nodeCount, left.count == nodeCount, right.count == nodeCount else {
            throw fail("'feature', 'threshold', 'left' and 'right' have \(nodeCount), \(threshold.count), \(left.count) and \(right.count) entries; they need one per node")
        }
        let width = kind == .forest ? outputs : 1
        guard valuesDataset.shape == [nodeCount, width] else {
            throw fail("'values' is \(valuesDataset.shape.map(String.init).joined(separator: " x ")), not \(nodeCount) x \(width) (nodes x values per node)")
        }
        let values = try valuesDataset.read(as: Float.self)
        guard offsets.count >= 2, offsets[0] == 0, offsets[offsets.count - 1] == Int64(nodeCount) else {
            throw fail("'tree_offsets' must start at 0 and end at the \(nodeCount) nodes, with at least one tree")
        }
        if let index = (0..<(offsets.count - 1)).first(where: { offsets[$0] >= offsets[$0 + 1] }) {
            throw fail("'tree_offsets' gives tree \(index) no nodes (they must increase)")
        }
        var trees: [DecisionTree] = []
        trees.reserveCapacity(offsets.count - 1)
        for index in 0..<(offsets.count - 1) {
            let nodes = Int(offsets[index])..<Int(offsets[index + 1])
            trees.append(DecisionTree(
                feature: Array(feature[nodes]), threshold: Array(threshold[nodes]),
                left: Array(left[nodes]), right: Array(right[nodes]),
                values: Array(values[(nodes.lowerBound * width)..<(nodes.upperBound * width)]), outputCount: width
            ))
        }
        let ensemble = TreeEnsemble(kind: kind, task: task, outputCount: outputs, trees: trees, baseline: baseline)
        do {
            try ensemble.validate(featureCount: featureCount)
        } catch {
            throw fail(error.message)
        }
        return ensemble
    }
}
