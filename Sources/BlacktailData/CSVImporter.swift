import Foundation

/// Imports a CSV file with a header row into a dataset file, streaming: memory stays bounded by a
/// block of rows and the set of distinct labels, whatever the file's size.
public struct CSVImporter: Sendable {
    public enum TaskChoice: String, Sendable, CaseIterable {
        /// Classes when the labels are names, or integers with at most ``maximumAutoClasses`` values;
        /// regression otherwise.
        case auto
        case classification
        case regression
        case unlabelled
    }

    public enum MissingPolicy: String, Sendable, CaseIterable {
        /// A missing value is an error naming its line and column.
        case error
        /// Rows with a missing value are left out.
        case drop
        /// A missing feature becomes its column's mean over the rows that have it.
        case imputeMean = "impute-mean"
    }

    /// The label column; nil imports every column as a feature, unlabelled.
    public var label: String?
    public var task: TaskChoice = .auto
    public var separator: UInt8 = UInt8(ascii: ",")
    public var missing: MissingPolicy = .error
    /// gzip level for the output, or nil for none.
    public var compression: Int?
    /// Where the temporary files go.
    public var scratchDirectory: String = NSTemporaryDirectory()
    /// Rows parsed before they are written out together.
    public var blockRows = 8192
    /// Bytes of the CSV file read at a time.
    public var readBlockBytes = 1 << 22
    /// The op recorded as the dataset's writer.
    public var createdBy = "data/import-csv@1"

    public static let maximumAutoClasses = 20
    /// Texts read as a missing value (compared without case), besides an empty field.
    static let missingMarkers: Set<String> = ["na", "n/a", "nan", "null", "none", "?"]

    public init(label: String? = nil) {
        self.label = label
    }

    /// What an import did.
    public struct Summary: Sendable, Equatable {
        public var rows: Int
        public var droppedRows: Int
        public var imputedValues: Int
        public var task: Dataset.Task
        public var classes: [String]
    }

    /// Imports `csvPath` into `outputPath`, replacing it.
    /// - Throws: ``DatasetError`` naming the line and column of a bad or missing value, a row with
    ///   the wrong number of fields, or a label column that is not in the header.
    @discardableResult
    public func run(csv csvPath: String, to outputPath: String, progress: ((Int) -> Void)? = nil) throws(DatasetError) -> Summary {
        let reader = try CSVReader(path: csvPath, separator: separator)
        reader.blockSize = readBlockBytes
        defer { reader.close() }
        guard let headerCount = try reader.nextRecord() else { throw DatasetError(file: csvPath, "the file is empty; it needs a header row") }
        let header = (0..<headerCount).map { reader.string($0).trimmingCharacters(in: .whitespaces) }
        var labelIndex: Int?
        if let label {
            guard let index = header.firstIndex(of: label) else {
                throw DatasetError(file: csvPath, place: "line 1", "there is no column '\(label)'; the columns are \(header.joined(separator: ", "))")
            }
            labelIndex = index
        }
        let featureColumns = header.indices.filter { $0 != labelIndex }
        let featureNames = featureColumns.map { header[$0] }
        let wantsLabels = labelIndex != nil && task != .unlabelled

        // The source's digest is computed on another thread while this one parses.
        let digest = BackgroundDigest(path: csvPath)
        let writer = try DatasetWriter(path: outputPath, featureNames: featureNames, compression: compression)
        let scratch = try ScratchTargets(directory: scratchDirectory, keepValues: task == .auto || task == .regression)
        var succeeded = false
        defer {
            scratch.remove()
            if !succeeded {
                writer.abandon()
                try? FileManager.default.removeItem(atPath: outputPath)
            }
        }

        var block: [Float] = []
        block.reserveCapacity(blockRows * featureNames.count)
        var blockIDs: [Int64] = []
        var blockValues: [Double] = []
        var labelIDs: [String: Int64] = [:]
        var labelNames: [String] = []
        var allLabelsNumeric = true
        var sums = [Double](repeating: 0, count: featureNames.count)
        var counts = [Int](repeating: 0, count: featureNames.count)
        var rows = 0
        var dropped = 0
        var imputed = 0
        var rowValues = [Float](repeating: 0, count: featureNames.count)

        func place(_ column: Int) -> String {
            "line \(reader.recordLine), column \(column + 1) ('\(header[column])')"
        }

        func flush() throws(DatasetError) {
            guard !blockIDs.isEmpty || !block.isEmpty else { return }
            try writer.appendFeatures(block)
            try scratch.append(ids: blockIDs, values: blockValues)
            block.removeAll(keepingCapacity: true)
            blockIDs.removeAll(keepingCapacity: true)
            blockValues.removeAll(keepingCapacity: true)
            progress?(rows)
        }

        recordLoop: while let fieldCount = try reader.nextRecord() {
            guard fieldCount == headerCount else {
                throw DatasetError(file: csvPath, place: "line \(reader.recordLine)", "\(fieldCount) fields, but the header has \(headerCount)")
            }
            // Parse the row's numbers in one pass; the first field that is not a number stops it.
            let stop = try reader.withRecord { fields, bytes, quoted throws(DatasetError) -> Int? in
                rowValues.withUnsafeMutableBufferPointer { values -> Int? in
                    for (position, column) in featureColumns.enumerated() {
                        guard let parsed = CSVReader.number(column, fields: fields, bytes: bytes, quoted: quoted), Float(parsed).isFinite else {
                            return position
                        }
                        values[position] = Float(parsed)
                    }
                    return nil
                }
            }
            var rowHasMissing = false
            if let position = stop {
                // Check each field from the first that did not parse: missing, or an error.
                for (offset, column) in featureColumns.enumerated().dropFirst(position) {
                    let field = reader.string(column)
                    let trimmed = field.trimmingCharacters(in: .whitespaces)
                    if let number = Array(field.utf8).withUnsafeBufferPointer({ NumberParser.double($0) }) {
                        guard Float(number).isFinite else {
                            throw DatasetError(file: csvPath, place: place(column), "\(trimmed.prefix(40)) does not fit in a float32")
                        }
                        rowValues[offset] = Float(number)
                        continue
                    }
                    guard trimmed.isEmpty || Self.missingMarkers.contains(trimmed.lowercased()) else {
                        throw DatasetError(file: csvPath, place: place(column), "'\(trimmed.prefix(40))' is not a number")
                    }
                    switch missing {
                    case .error:
                        throw DatasetError(file: csvPath, place: place(column), "missing value; set the missing-value policy to drop or impute-mean to accept it")
                    case .drop:
                        dropped += 1
                        continue recordLoop
                    case .imputeMean:
                        rowValues[offset] = .nan
                        rowHasMissing = true
                    }
                }
            }
            var labelID: Int64 = -1
            var labelValue = Double.nan
            if wantsLabels, let labelIndex {
                let text = reader.string(labelIndex).trimmingCharacters(in: .whitespaces)
                let isMissing = text.isEmpty || Self.missingMarkers.contains(text.lowercased())
                // A missing label is an unlabelled row only when the task says classification; for
                // regression, and for auto (which may turn out to be regression), it is a missing value.
                if isMissing, task != .classification {
                    guard missing != .error else {
                        throw DatasetError(
                            file: csvPath, place: place(labelIndex),
                            "missing target; set the missing-value policy to drop to leave such rows out, or the task to classification to keep them unlabelled"
                        )
                    }
                    dropped += 1
                    continue recordLoop
                }
                if !isMissing {
                    if let id = labelIDs[text] {
                        labelID = id
                    } else {
                        labelID = Int64(labelNames.count)
                        labelIDs[text] = labelID
                        labelNames.append(text)
                    }
                    if scratch.keepsValues {
                        if let number = Double(text), number.isFinite {
                            labelValue = number
                        } else {
                            allLabelsNumeric = false
                            if task == .regression {
                                throw DatasetError(file: csvPath, place: place(labelIndex), "'\(text.prefix(40))' is not a number, and the task is regression")
                            }
                        }
                    }
                }
            }
            for position in 0..<featureNames.count where !rowValues[position].isNaN {
                sums[position] += Double(rowValues[position])
                counts[position] += 1
            }
            if rowHasMissing { imputed += rowValues.count { $0.isNaN } }
            block.append(contentsOf: rowValues)
            blockIDs.append(labelID)
            if scratch.keepsValues { blockValues.append(labelValue) }
            rows += 1
            if blockIDs.count >= blockRows { try flush() }
        }
        try flush()
        guard rows > 0 else { throw DatasetError(file: csvPath, "there are no data rows after the header\(dropped > 0 ? " (\(dropped) were dropped for missing values)" : "")") }

        if imputed > 0 {
            let means = zip(sums, counts).map { $1 > 0 ? Float($0 / Double($1)) : 0 }
            try Self.fillMissing(in: writer, rows: rows, width: featureNames.count, means: means, blockRows: blockRows)
        }

        // The task, and class ids in a stable order: numeric labels by value, names by their bytes.
        let resolvedTask: Dataset.Task
        switch task {
        case .classification: resolvedTask = .classification
        case .regression: resolvedTask = .regression
        case .unlabelled: resolvedTask = .unlabelled
        case .auto:
            if !wantsLabels {
                resolvedTask = .unlabelled
            } else if allLabelsNumeric, !labelNames.isEmpty,
                !(labelNames.count <= Self.maximumAutoClasses && labelNames.allSatisfy { Double($0).map { $0 == $0.rounded() } ?? false })
            {
                resolvedTask = .regression
            } else {
                resolvedTask = .classification
            }
        }
        var classes: [String] = []
        if resolvedTask == .regression {
            try scratch.copyValues(into: writer)
        } else if resolvedTask == .classification {
            let numeric = labelNames.allSatisfy { Double($0) != nil }
            classes = labelNames.sorted { lhs, rhs in
                if numeric, let a = Double(lhs), let b = Double(rhs), a != b { return a < b }
                return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
            }
            let rank = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int64($0)) })
            let remap = labelNames.map { rank[$0]! }
            try scratch.copyIDs(into: writer, remap: remap)
        }
        try writer.finish(
            task: resolvedTask,
            classes: classes,
            targetName: wantsLabels ? (label ?? "") : "",
            provenance: Dataset.Provenance(sourceSHA256: try digest.result(), source: (csvPath as NSString).lastPathComponent, createdBy: createdBy)
        )
        succeeded = true
        return Summary(rows: rows, droppedRows: dropped, imputedValues: imputed, task: resolvedTask, classes: classes)
    }

    private static func fillMissing(in writer: DatasetWriter, rows: Int, width: Int, means: [Float], blockRows: Int) throws(DatasetError) {
        var start = 0
        while start < rows {
            let end = min(rows, start + blockRows)
            var values = try writer.readFeatures(start..<end)
            var changed = false
            for index in values.indices where values[index].isNaN {
                values[index] = means[index % width]
                changed = true
            }
            if changed { try writer.rewriteFeatures(values, startingAt: start) }
            start = end
        }
    }
}

/// Provisional targets, kept on disk until the task and the class order are known.
private final class ScratchTargets {
    let keepsValues: Bool
    private let idsPath: String
    private let valuesPath: String
    private let ids: FileHandle
    private let values: FileHandle?
    private static let blockCount = 1 << 16

    init(directory: String, keepValues: Bool) throws(DatasetError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DatasetError(file: directory, "cannot create the folder for temporary files")
        }
        let stem = (directory as NSString).appendingPathComponent("import-\(UUID().uuidString)")
        idsPath = stem + ".ids"
        valuesPath = stem + ".values"
        keepsValues = keepValues
        guard FileManager.default.createFile(atPath: idsPath, contents: nil), let ids = FileHandle(forUpdatingAtPath: idsPath) else {
            throw DatasetError(file: idsPath, "cannot create a temporary file")
        }
        self.ids = ids
        if keepValues {
            guard FileManager.default.createFile(atPath: valuesPath, contents: nil), let values = FileHandle(forUpdatingAtPath: valuesPath) else {
                throw DatasetError(file: valuesPath, "cannot create a temporary file")
            }
            self.values = values
        } else {
            values = nil
        }
    }

    func append(ids newIDs: [Int64], values newValues: [Double]) throws(DatasetError) {
        do {
            try ids.write(contentsOf: newIDs.withUnsafeBytes { Data($0) })
            if let values { try values.write(contentsOf: newValues.withUnsafeBytes { Data($0) }) }
        } catch {
            throw DatasetError(file: idsPath, "cannot write a temporary file: \(error.localizedDescription)")
        }
    }

    func copyIDs(into writer: DatasetWriter, remap: [Int64]) throws(DatasetError) {
        try readBack(ids, path: idsPath, as: Int64.self) { (block: [Int64]) throws(DatasetError) in
            try writer.appendTargets(classIDs: block.map { $0 < 0 ? -1 : remap[Int($0)] })
        }
    }

    func copyValues(into writer: DatasetWriter) throws(DatasetError) {
        guard let values else { return }
        try readBack(values, path: valuesPath, as: Double.self) { (block: [Double]) throws(DatasetError) in
            try writer.appendTargets(values: block)
        }
    }

    private func readBack<T>(_ handle: FileHandle, path: String, as: T.Type, _ body: ([T]) throws(DatasetError) -> Void) throws(DatasetError) {
        do {
            try handle.seek(toOffset: 0)
            while let data = try handle.read(upToCount: Self.blockCount * MemoryLayout<T>.stride), !data.isEmpty {
                let block = data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
                try body(block)
            }
        } catch let error as DatasetError {
            throw error
        } catch {
            throw DatasetError(file: path, "cannot read a temporary file: \(error.localizedDescription)")
        }
    }

    func remove() {
        try? ids.close()
        try? values?.close()
        try? FileManager.default.removeItem(atPath: idsPath)
        try? FileManager.default.removeItem(atPath: valuesPath)
    }
}

/// A file's sha256, computed on a thread of its own (not the caller's task pool), and waited for.
/// The thread keeps the object alive until it has finished.
private final class BackgroundDigest: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the thread before it signals `done`; read only after waiting for it.
    private var outcome: Result<String, DatasetError> = .failure(DatasetError(file: "", "the digest was not computed"))

    init(path: String) {
        let thread = Thread { [self] in
            self.outcome = Result { () throws(DatasetError) in try DatasetFile.sha256(ofFile: path) }
            self.done.signal()
        }
        thread.start()
    }

    func result() throws(DatasetError) -> String {
        done.wait()
        done.signal()  // stays done for the next wait
        return try outcome.get()
    }

}
