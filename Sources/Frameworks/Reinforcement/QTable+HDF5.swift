public import HDF5

extension QTable {
    /// Writes the table into `group` as `q_values`, a float64 dataset of states x actions.
    /// - Throws: ``HDF5Error`` when the dataset cannot be written (one of that name exists, say).
    public func write(to group: HDF5Group) throws {
        try group.writeDataset("q_values", values, shape: [states, actions])
    }

    /// The most values a table read from a file may have.
    public static let maximumValues = 1 << 27

    /// Reads the table ``write(to:)`` wrote into `group`.
    /// - Throws: ``CheckpointError`` naming `path` when `q_values` is missing, is not a 2-D numeric
    ///   dataset of at least one state and one action and at most ``maximumValues`` values, or holds
    ///   a value that is not finite; ``HDF5Error`` when the file cannot be read.
    public static func read(from group: HDF5Group, path: String) throws -> QTable {
        let name = (group.path == "/" ? "" : group.path) + "/q_values"
        guard group.isDataset("q_values") else { throw CheckpointError(path: path, "has no Q-table (\(name) is missing)") }
        let dataset = try group.dataset("q_values")
        // Any numeric type reads as float64 through HDF5's conversion; text and flags do not.
        guard let type = dataset.elementType, type != .string, type != .bool else {
            throw CheckpointError(path: path, "\(name) holds \(dataset.elementType?.rawValue ?? "a type Blacktail cannot read"), not numbers")
        }
        guard dataset.shape.count == 2, dataset.shape[0] >= 1, dataset.shape[1] >= 1 else {
            throw CheckpointError(path: path, "\(name) has shape \(dataset.shape), not states x actions")
        }
        // A corrupt shape must not become an allocation that cannot be made.
        let (count, overflow) = dataset.shape[0].multipliedReportingOverflow(by: dataset.shape[1])
        guard !overflow, count <= maximumValues else {
            throw CheckpointError(path: path, "\(name) has shape \(dataset.shape), more than the \(maximumValues) values a Q-table may have")
        }
        let values = try dataset.read(as: Double.self)
        guard values.count == dataset.shape[0] * dataset.shape[1] else {
            throw CheckpointError(path: path, "\(name) holds \(values.count) values, not the \(dataset.shape[0]) x \(dataset.shape[1]) its shape says")
        }
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw CheckpointError(path: path, "\(name) has a value that is not finite (\(values[index])) at state \(index / dataset.shape[1]), action \(index % dataset.shape[1])")
        }
        return QTable(states: dataset.shape[0], actions: dataset.shape[1], values: values)
    }
}
