import Crypto
import Foundation
public import HDF5

/// Reading and writing datasets in the Blacktail layout (docs/formats.md).
public enum DatasetFile {
    /// The value of the root's `format` attribute.
    public static let format = "blacktail.dataset/1"

    /// Writes a whole dataset, replacing any file at the path.
    public static func write(_ dataset: Dataset, to path: String, compression: Int? = nil) throws(DatasetError) {
        try dataset.validate(file: path)
        let writer = try DatasetWriter(path: path, featureNames: dataset.featureNames, compression: compression, expectedRows: dataset.rowCount)
        do {
            switch dataset.targets {
            case .classes(let ids): try writer.append(features: dataset.features, classIDs: ids)
            case .values(let values): try writer.append(features: dataset.features, values: values)
            }
            try writer.finish(task: dataset.task, classes: dataset.classes, targetName: dataset.targetName, provenance: dataset.provenance)
        } catch {
            writer.abandon()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    /// Reads a whole dataset; files written by hand with h5py need only `/features` and `/targets`.
    /// - Throws: ``DatasetError`` naming the file and the object at fault.
    public static func read(_ path: String) throws(DatasetError) -> Dataset {
        let reader = try DatasetReader(path: path)
        defer { reader.close() }
        return try reader.readAll()
    }

    /// The sha256 of a file's bytes, read in blocks.
    public static func sha256(ofFile path: String) throws(DatasetError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DatasetError(file: path, "cannot read the file") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let block: Data
            do {
                guard let read = try handle.read(upToCount: 1 << 20), !read.isEmpty else { break }
                block = read
            } catch {
                throw DatasetError(file: path, "cannot read the file: \(error.localizedDescription)")
            }
            hasher.update(data: block)
        }
        return hasher.finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Reads a dataset file whole or in parts (a range of rows, or rows by index).
public final class DatasetReader {
    public let path: String
    public let rowCount: Int
    public let featureCount: Int
    public let task: Dataset.Task
    public let featureNames: [String]
    public let classes: [String]
    public let targetName: String
    public let provenance: Dataset.Provenance
    private let file: HDF5File
    private let featuresDataset: HDF5Dataset
    private let targetsDataset: HDF5Dataset?

    /// Opens a dataset and checks its layout.
    /// - Throws: ``DatasetError`` for a missing or non-HDF5 file, missing `/features`, shapes that do
    ///   not agree, or types that cannot be features or targets.
    public init(path: String) throws(DatasetError) {
        self.path = path
        let file = try hdf5 { () throws(HDF5Error) in try HDF5File.open(at: path) }
        self.file = file
        let root = try hdf5 { () throws(HDF5Error) in try file.root }
        guard root.isDataset("features") else {
            throw DatasetError(file: path, place: "/features", "missing: a Blacktail dataset has /features (N x D) and /targets (N)")
        }
        let featuresDataset = try hdf5 { () throws(HDF5Error) in try root.dataset("features") }
        self.featuresDataset = featuresDataset
        guard featuresDataset.shape.count == 2 else {
            throw DatasetError(file: path, place: "/features", "must be 2-dimensional (N x D), but its shape is \(featuresDataset.shape)")
        }
        guard let featureType = featuresDataset.elementType, featureType != .string, featureType != .bool else {
            throw DatasetError(file: path, place: "/features", "must hold numbers, not \(featuresDataset.elementType?.rawValue ?? "an unreadable type")")
        }
        let rowCount = featuresDataset.shape[0]
        let featureCount = featuresDataset.shape[1]
        guard featureCount > 0 else {
            throw DatasetError(file: path, place: "/features", "has no columns; a dataset needs at least one feature")
        }
        self.rowCount = rowCount
        self.featureCount = featureCount

        let targetsDataset: HDF5Dataset?
        if root.isDataset("targets") {
            let targets = try hdf5 { () throws(HDF5Error) in try root.dataset("targets") }
            guard targets.shape.count == 1 || (targets.shape.count == 2 && targets.shape[1] == 1) else {
                throw DatasetError(file: path, place: "/targets", "must be 1-dimensional (N), but its shape is \(targets.shape)")
            }
            guard targets.rowCount == rowCount else {
                throw DatasetError(file: path, place: "/targets", "has \(targets.rowCount) rows, but /features has \(rowCount)")
            }
            guard let type = targets.elementType, type != .string, type != .bool else {
                throw DatasetError(file: path, place: "/targets", "must hold numbers, not \(targets.elementType?.rawValue ?? "an unreadable type")")
            }
            targetsDataset = targets
        } else {
            targetsDataset = nil
        }
        self.targetsDataset = targetsDataset

        func text(_ name: String) throws(DatasetError) -> String? {
            try hdf5 { () throws(HDF5Error) in try root.attribute(name)?.stringValue }
        }
        let names = try hdf5 { () throws(HDF5Error) in try root.attribute("feature_names")?.stringsValue }
        if let names, names.count != featureCount {
            throw DatasetError(file: path, place: "/ (feature_names)", "names \(names.count) features, but /features has \(featureCount) columns")
        }
        featureNames = names ?? (0..<featureCount).map { "f\($0)" }
        let storedClasses = try hdf5 { () throws(HDF5Error) in try root.attribute("classes")?.stringsValue } ?? []
        targetName = try text("target_name") ?? ""
        provenance = Dataset.Provenance(
            sourceSHA256: try text("source_sha256") ?? "",
            source: try text("source") ?? "",
            createdBy: try text("created_by") ?? ""
        )

        let storedTask = try text("task")
        let task: Dataset.Task
        let integerTargets = targetsDataset.map { $0.elementType != .float32 && $0.elementType != .float64 } ?? true
        if let storedTask {
            guard let parsed = Dataset.Task(rawValue: storedTask) else {
                throw DatasetError(file: path, place: "/ (task)", "'\(storedTask)' is not a task; use classification, regression or unlabelled")
            }
            task = parsed
        } else if targetsDataset == nil {
            task = .unlabelled
        } else {
            task = integerTargets ? .classification : .regression
        }
        self.task = task
        if task != .regression, !integerTargets {
            throw DatasetError(file: path, place: "/targets", "\(task.rawValue) targets must be integers (class ids), but they are floats")
        }
        // Without stored class names, a classification file names its classes by id.
        if task == .classification, storedClasses.isEmpty, let targetsDataset {
            let ids = try hdf5 { () throws(HDF5Error) in try targetsDataset.read(as: Int64.self) }
            let count = Int(ids.max() ?? -1) + 1
            classes = (0..<max(count, 0)).map(String.init)
        } else {
            classes = storedClasses
        }
    }

    /// Reads every row.
    public func readAll() throws(DatasetError) -> Dataset {
        try dataset(features: hdf5 { () throws(HDF5Error) in try featuresDataset.read(as: Float.self) }, rows: nil)
    }

    /// Reads rows `range`.
    public func readRows(_ range: Range<Int>) throws(DatasetError) -> Dataset {
        let features = try hdf5 { () throws(HDF5Error) in try featuresDataset.readRows(range, as: Float.self) }
        return try dataset(features: features, rows: .range(range))
    }

    /// Reads the rows at `indices`, in that order.
    public func readRows(at indices: [Int]) throws(DatasetError) -> Dataset {
        let features = try hdf5 { () throws(HDF5Error) in try featuresDataset.readRows(at: indices, as: Float.self) }
        return try dataset(features: features, rows: .indices(indices))
    }

    private enum Rows {
        case range(Range<Int>)
        case indices([Int])
    }

    private func dataset(features: [Float], rows: Rows?) throws(DatasetError) -> Dataset {
        let count = features.count / max(featureCount, 1)
        let targets: Dataset.Targets
        if let targetsDataset {
            func read<T: HDF5Element>(_: T.Type) throws(DatasetError) -> [T] {
                try hdf5 { () throws(HDF5Error) in
                    switch rows {
                    case nil: try targetsDataset.read(as: T.self)
                    case .range(let range): try targetsDataset.readRows(range, as: T.self)
                    case .indices(let indices): try targetsDataset.readRows(at: indices, as: T.self)
                    }
                }
            }
            targets = task == .regression ? .values(try read(Double.self)) : .classes(try read(Int64.self))
        } else {
            targets = .classes([Int64](repeating: -1, count: count))
        }
        let dataset = Dataset(
            features: features, featureNames: featureNames, targets: targets, task: task,
            classes: classes, targetName: targetName, provenance: provenance
        )
        try dataset.validate(file: path)
        return dataset
    }

    public func close() {
        file.close()
    }
}

/// Writes a dataset file row block by row block, so data larger than memory can stream in.
///
/// Targets may come with the features (``append(features:classIDs:)``), or later and separately
/// (``appendFeatures(_:)`` then ``appendTargets(classIDs:)`` or ``appendTargets(values:)``), as when
/// the task is known only after every row was read.
public final class DatasetWriter {
    public let path: String
    public let featureNames: [String]
    private let file: HDF5File
    private let root: HDF5Group
    private let features: HDF5Dataset
    private var targets: HDF5Dataset?
    private let compression: Int?
    private let chunkRows: Int
    public private(set) var rowCount = 0
    public private(set) var targetCount = 0

    /// Creates the file (replacing one at the path) with an empty, extendable `/features`.
    ///
    /// - Parameter expectedRows: the number of rows when known, so that a small dataset gets small
    ///   chunks (a chunk is stored whole, however little of it is used).
    public init(path: String, featureNames: [String], compression: Int? = nil, expectedRows: Int? = nil) throws(DatasetError) {
        self.path = path
        self.featureNames = featureNames
        self.compression = compression
        guard !featureNames.isEmpty else { throw DatasetError(file: path, place: "/features", "a dataset needs at least one feature") }
        let width = featureNames.count
        // Chunks of about 1 MiB of features, or the whole dataset when it is smaller; shuffle helps gzip on floats.
        let rows = max(1, min((1 << 20) / (width * 4), expectedRows ?? .max))
        self.chunkRows = rows
        let file = try hdf5 { () throws(HDF5Error) in try HDF5File.create(at: path, overwrite: true) }
        self.file = file
        let root = try hdf5 { () throws(HDF5Error) in try file.root }
        self.root = root
        features = try hdf5 { () throws(HDF5Error) in
            try root.createDataset(
                "features", of: .float32, shape: [0, featureNames.count],
                layout: .chunked(rows: rows, gzip: compression, shuffle: compression != nil, extendable: true)
            )
        }
    }

    /// Appends rows of classification (or unlabelled) data.
    public func append(features rowFeatures: [Float], classIDs: [Int64]) throws(DatasetError) {
        try appendFeatures(rowFeatures)
        try appendTargets(classIDs: classIDs)
    }

    /// Appends rows of regression data.
    public func append(features rowFeatures: [Float], values: [Double]) throws(DatasetError) {
        try appendFeatures(rowFeatures)
        try appendTargets(values: values)
    }

    /// Appends whole rows of features.
    public func appendFeatures(_ rowFeatures: [Float]) throws(DatasetError) {
        guard featureNames.isEmpty ? rowFeatures.isEmpty : rowFeatures.count % featureNames.count == 0 else {
            throw DatasetError(file: path, place: "/features", "\(rowFeatures.count) values are not whole rows of \(featureNames.count) features")
        }
        try hdf5 { () throws(HDF5Error) in try features.append(rowFeatures) }
        rowCount = features.rowCount
    }

    /// Appends class ids (-1 for a row without a label).
    public func appendTargets(classIDs: [Int64]) throws(DatasetError) {
        let targets = try targetsDataset(.int64)
        try hdf5 { () throws(HDF5Error) in try targets.append(classIDs) }
        targetCount += classIDs.count
    }

    /// Appends regression targets.
    public func appendTargets(values: [Double]) throws(DatasetError) {
        let targets = try targetsDataset(.float64)
        try hdf5 { () throws(HDF5Error) in try targets.append(values) }
        targetCount += values.count
    }

    private func targetsDataset(_ type: HDF5ElementType) throws(DatasetError) -> HDF5Dataset {
        if let targets {
            guard targets.elementType == type else {
                throw DatasetError(file: path, place: "/targets", "holds \(targets.elementType?.rawValue ?? "?"), not \(type.rawValue)")
            }
            return targets
        }
        let created = try hdf5 { () throws(HDF5Error) in
            try root.createDataset(
                "targets", of: type, shape: [0],
                layout: .chunked(rows: max(chunkRows, min(1 << 16, chunkRows * 64)), gzip: compression, shuffle: compression != nil, extendable: true)
            )
        }
        targets = created
        return created
    }

    /// Overwrites whole rows of features from row `start` (to fill in imputed values).
    public func rewriteFeatures(_ rowFeatures: [Float], startingAt start: Int) throws(DatasetError) {
        try hdf5 { () throws(HDF5Error) in try features.writeRows(rowFeatures, startingAt: start) }
    }

    /// Reads back rows of features already written.
    public func readFeatures(_ range: Range<Int>) throws(DatasetError) -> [Float] {
        try hdf5 { () throws(HDF5Error) in try features.readRows(range, as: Float.self) }
    }

    /// Writes the attributes and closes the file.
    /// - Throws: ``DatasetError`` when the targets do not match the rows or the task.
    public func finish(task: Dataset.Task, classes: [String], targetName: String = "", provenance: Dataset.Provenance) throws(DatasetError) {
        if task == .unlabelled, targets == nil {
            var remaining = rowCount - targetCount
            while remaining > 0 {
                let block = min(remaining, 1 << 16)
                try appendTargets(classIDs: [Int64](repeating: -1, count: block))
                remaining -= block
            }
        }
        if targets == nil, rowCount == 0 {
            _ = try targetsDataset(task == .regression ? .float64 : .int64)
        }
        guard targetCount == rowCount, let targets else {
            throw DatasetError(file: path, place: "/targets", "has \(targetCount) rows, but /features has \(rowCount)")
        }
        guard (task == .regression) == (targets.elementType == .float64) else {
            throw DatasetError(file: path, place: "/targets", "\(task.rawValue) data needs \(task == .regression ? "float" : "integer") targets")
        }
        let attributes: [(String, HDF5AttributeValue)] = [
            ("format", .string(DatasetFile.format)),
            ("task", .string(task.rawValue)),
            ("feature_names", .strings(featureNames)),
            ("classes", .strings(classes)),
            ("target_name", .string(targetName)),
            ("source_sha256", .string(provenance.sourceSHA256)),
            ("source", .string(provenance.source)),
            ("created_by", .string(provenance.createdBy)),
        ]
        for (name, value) in attributes {
            try hdf5 { () throws(HDF5Error) in try root.setAttribute(name, value) }
        }
        file.close()
    }

    /// Closes the file without finishing it, after an error; the caller removes the partial file.
    public func abandon() {
        file.close()
    }
}
