public import HDF5

/// A table of examples: float32 features (N x D, row-major) and one target per row.
///
/// On disk it is an HDF5 file in the layout of docs/formats.md: `/features`, `/targets`, and
/// attributes on the root group. ``DatasetFile`` reads and writes it.
public struct Dataset: Sendable, Equatable {
    public enum Task: String, Sendable, CaseIterable {
        /// Targets are class ids (`classes[id]` names them); -1 marks a row without a label.
        case classification
        /// Targets are numbers.
        case regression
        /// There are no labels; every target is -1.
        case unlabelled
    }

    public enum Targets: Sendable, Equatable {
        case classes([Int64])
        case values([Double])

        public var count: Int {
            switch self {
            case .classes(let ids): ids.count
            case .values(let values): values.count
            }
        }
    }

    /// Where the data came from: the digest of the file it was made from, and the op that made it.
    public struct Provenance: Sendable, Equatable {
        /// sha256 of the source file's bytes (the CSV imported, or the dataset transformed); empty
        /// for generated data.
        public var sourceSHA256: String
        /// A short description of the source (`iris.csv`, `generated blobs, seed 0`).
        public var source: String
        /// The op and version that wrote the file (`data/split@1`).
        public var createdBy: String

        public init(sourceSHA256: String = "", source: String = "", createdBy: String = "") {
            self.sourceSHA256 = sourceSHA256
            self.source = source
            self.createdBy = createdBy
        }
    }

    public var features: [Float]
    public var featureNames: [String]
    public var targets: Targets
    public var task: Task
    /// Class names, indexed by class id (classification only).
    public var classes: [String]
    /// The name of the column the targets came from, when known.
    public var targetName: String
    public var provenance: Provenance

    public init(
        features: [Float],
        featureNames: [String],
        targets: Targets,
        task: Task,
        classes: [String] = [],
        targetName: String = "",
        provenance: Provenance = Provenance()
    ) {
        self.features = features
        self.featureNames = featureNames
        self.targets = targets
        self.task = task
        self.classes = classes
        self.targetName = targetName
        self.provenance = provenance
    }

    public var featureCount: Int { featureNames.count }
    public var rowCount: Int { targets.count }

    /// The features of one row.
    public func row(_ index: Int) -> ArraySlice<Float> {
        features[(index * featureCount)..<((index + 1) * featureCount)]
    }

    /// The class ids, for classification and unlabelled data.
    public var classIDs: [Int64]? {
        if case .classes(let ids) = targets { return ids }
        return nil
    }

    /// A dataset of the rows at `indices`, in that order, with the same names and classes.
    public func rows(_ indices: [Int]) -> Dataset {
        var copy = self
        copy.features = []
        copy.features.reserveCapacity(indices.count * featureCount)
        for index in indices { copy.features.append(contentsOf: row(index)) }
        switch targets {
        case .classes(let ids): copy.targets = .classes(indices.map { ids[$0] })
        case .values(let values): copy.targets = .values(indices.map { values[$0] })
        }
        return copy
    }

    /// Checks that the parts agree: N x D features, N targets, class ids within the classes.
    public func validate(file: String) throws(DatasetError) {
        guard featureCount > 0 else { throw DatasetError(file: file, place: "/features", "the dataset has no features; it needs at least one") }
        guard features.count == rowCount * featureCount else {
            throw DatasetError(file: file, place: "/features", "\(features.count) values are not \(rowCount) rows of \(featureCount) features")
        }
        switch (task, targets) {
        case (.regression, .values):
            break
        case (.classification, .classes(let ids)), (.unlabelled, .classes(let ids)):
            if let bad = ids.first(where: { $0 < -1 || $0 >= Int64(classes.count) }) {
                throw DatasetError(file: file, place: "/targets", "class id \(bad) is not -1 (unlabelled) or one of the \(classes.count) classes")
            }
        default:
            throw DatasetError(file: file, place: "/targets", "\(task.rawValue) data needs \(task == .regression ? "float" : "integer") targets")
        }
    }
}
