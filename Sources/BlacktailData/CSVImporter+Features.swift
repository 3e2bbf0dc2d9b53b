import Foundation

extension CSVImporter {
    /// Reads the columns named `featureNames` from a CSV file with a header row, matched by name,
    /// as an unlabelled dataset whose features are in the order of `featureNames`.
    ///
    /// The file's columns may come in any order, and columns not named (a label, an id) are
    /// skipped without being parsed. Every cell of a named column must hold a number: the rows
    /// become predictions one for one, so none is dropped or filled in, whatever ``missing`` says.
    /// ``separator`` and ``readBlockBytes`` apply as to an import.
    ///
    /// - Throws: ``DatasetError`` for a missing or empty file, a named column the header lacks (naming
    ///   every missing one and the columns the file has) or has twice, a row with the wrong number of
    ///   fields, or a cell that is empty or not a number (naming its line and column), and for a file
    ///   without data rows.
    public func features(csv path: String, named featureNames: [String]) throws(DatasetError) -> Dataset {
        guard !featureNames.isEmpty else { throw DatasetError(file: path, "no feature columns were asked for") }
        let reader = try CSVReader(path: path, separator: separator)
        reader.blockSize = readBlockBytes
        defer { reader.close() }
        guard let headerCount = try reader.nextRecord() else { throw DatasetError(file: path, "the file is empty; it needs a header row") }
        let header = (0..<headerCount).map { reader.string($0).trimmingCharacters(in: .whitespaces) }
        let columns = try Self.columns(of: featureNames, in: header, file: path)

        var features: [Float] = []
        var rows = 0
        var rowValues = [Float](repeating: 0, count: featureNames.count)
        while let fieldCount = try reader.nextRecord() {
            guard fieldCount == headerCount else {
                throw DatasetError(file: path, place: "line \(reader.recordLine)", "\(fieldCount) fields, but the header has \(headerCount)")
            }
            let bad = try reader.withRecord { fields, bytes, quoted -> Int? in
                for (position, column) in columns.enumerated() {
                    guard let parsed = CSVReader.number(column, fields: fields, bytes: bytes, quoted: quoted), Float(parsed).isFinite else {
                        return column
                    }
                    rowValues[position] = Float(parsed)
                }
                return nil
            }
            if let column = bad {
                let text = reader.string(column)
                let place = "line \(reader.recordLine), column \(column + 1) ('\(header[column])')"
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || Self.missingMarkers.contains(trimmed.lowercased()) {
                    throw DatasetError(file: path, place: place, "missing value; every feature of every row needs a number")
                }
                if Array(trimmed.utf8).withUnsafeBufferPointer({ NumberParser.double($0) }) != nil {
                    throw DatasetError(file: path, place: place, "\(trimmed.prefix(40)) does not fit in a float32")
                }
                throw DatasetError(file: path, place: place, "'\(trimmed.prefix(40))' is not a number")
            }
            features.append(contentsOf: rowValues)
            rows += 1
        }
        guard rows > 0 else { throw DatasetError(file: path, "there are no data rows after the header") }
        return Dataset(
            features: features, featureNames: featureNames, targets: .classes([Int64](repeating: -1, count: rows)), task: .unlabelled,
            provenance: Dataset.Provenance(source: (path as NSString).lastPathComponent)
        )
    }

    /// The index in `header` of each of `names`.
    /// - Throws: ``DatasetError`` naming the names the header lacks, or one it has more than once.
    static func columns(of names: [String], in header: [String], file: String) throws(DatasetError) -> [Int] {
        var positions: [String: [Int]] = [:]
        for (index, name) in header.enumerated() { positions[name, default: []].append(index) }
        let missing = names.filter { positions[$0] == nil }
        guard missing.isEmpty else {
            let listed = missing.map { "'\($0)'" }.joined(separator: ", ")
            throw DatasetError(
                file: file, place: "line 1",
                "missing the feature column\(missing.count == 1 ? "" : "s") \(listed); the file's columns are \(header.joined(separator: ", "))"
            )
        }
        var columns: [Int] = []
        for name in names {
            guard let found = positions[name], found.count == 1 else {
                let numbers = (positions[name] ?? []).map { String($0 + 1) }.joined(separator: " and ")
                throw DatasetError(file: file, place: "line 1", "the column '\(name)' appears more than once (columns \(numbers)); name each column once")
            }
            columns.append(found[0])
        }
        return columns
    }
}
