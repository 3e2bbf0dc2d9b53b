internal import CHDF5

/// What ``HDF5File/readEverything(elementsPerRead:)`` read.
public struct HDF5ReadSummary: Sendable, Hashable {
    public var groups = 0
    public var datasets = 0
    public var attributes = 0
    /// Dataset elements read (strings count one each).
    public var elements = 0
    /// Datasets and attributes of a type Blacktail does not read, left unread.
    public var skipped = 0

    public init() {}
}

extension HDF5ReadSummary: CustomStringConvertible {
    /// `1 group, 3 datasets, 9 attributes, 750 values`, and what was left unread.
    public var description: String {
        func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
        var text = [count(groups, "group"), count(datasets, "dataset"), count(attributes, "attribute"), count(elements, "value")]
            .joined(separator: ", ")
        if skipped > 0 { text += "; \(count(skipped, "dataset or attribute")) of types Blacktail does not read left unread" }
        return text
    }
}

extension HDF5File {
    /// Reads every group, dataset (every element, `elementsPerRead` at a time) and attribute the
    /// file's hard links reach, each object once, so that damage anywhere in it shows.
    ///
    /// Damage usually shows as an ``HDF5Error``, but some damaged files make the HDF5 library
    /// itself crash or loop without end; read a file of unknown origin this way in a child
    /// process first (Blacktail's `data verify` does).
    public func readEverything(elementsPerRead: Int = 1 << 22) throws(HDF5Error) -> HDF5ReadSummary {
        HDF5Library.ensureInitialized()
        var summary = HDF5ReadSummary()
        var visited: Set<haddr_t> = []
        let root = try self.root
        var pending: [HDF5Group] = [root]
        try readAttributes(of: root, into: &summary)
        summary.groups += 1
        while let group = pending.popLast() {
            for name in try group.memberNames {
                var link = H5L_info_t()
                guard H5Lget_info(group.handle.id, name, &link, bt_H5P_DEFAULT()) >= 0 else {
                    throw group.failure("cannot read the link '\(name)'")
                }
                // Soft and external links name objects reached some other way, or in another file.
                guard link.type == H5L_TYPE_HARD else { continue }
                var info = H5O_info_t()
                guard H5Oget_info_by_name2(group.handle.id, name, &info, UInt32(H5O_INFO_BASIC), bt_H5P_DEFAULT()) >= 0 else {
                    throw group.failure("cannot read what '\(name)' is")
                }
                guard visited.insert(info.addr).inserted else { continue }
                switch info.type {
                case H5O_TYPE_GROUP:
                    let child = try group.group(name)
                    try readAttributes(of: child, into: &summary)
                    summary.groups += 1
                    pending.append(child)
                case H5O_TYPE_DATASET:
                    let dataset = try group.dataset(name)
                    try readAttributes(of: dataset, into: &summary)
                    summary.elements += try readElements(of: dataset, elementsPerRead: elementsPerRead, summary: &summary)
                    summary.datasets += 1
                    dataset.close()
                default:
                    continue  // a named datatype holds no values
                }
            }
        }
        return summary
    }

    private func readAttributes(of object: HDF5Object, into summary: inout HDF5ReadSummary) throws(HDF5Error) {
        for name in try object.attributeNames {
            do {
                _ = try object.attribute(name)
                summary.attributes += 1
            } catch where error.kind == .typeMismatch {
                summary.skipped += 1
            }
        }
    }

    private func readElements(of dataset: HDF5Dataset, elementsPerRead: Int, summary: inout HDF5ReadSummary) throws(HDF5Error) -> Int {
        guard let type = dataset.elementType else {
            summary.skipped += 1
            return 0
        }
        let element: any HDF5Element.Type
        switch type {
        case .string: return try dataset.readStrings().count
        case .float32: element = Float.self
        case .float64: element = Double.self
        case .int8: element = Int8.self
        case .int16: element = Int16.self
        case .int32: element = Int32.self
        case .int64: element = Int64.self
        case .uint8: element = UInt8.self
        case .bool: element = Bool.self
        }
        func read(_ rows: Range<Int>?) throws(HDF5Error) -> Int { try Self.count(of: dataset, rows: rows, as: element) }
        // A scalar has no rows to read in parts.
        if dataset.shape.isEmpty { return try read(nil) }
        let rowsPerRead = max(1, elementsPerRead / max(1, dataset.rowWidth))
        var count = 0
        var start = 0
        while start < dataset.rowCount {
            let end = min(dataset.rowCount, start + rowsPerRead)
            count += try read(start..<end)
            start = end
        }
        return count
    }

    private static func count<Element: HDF5Element>(of dataset: HDF5Dataset, rows: Range<Int>?, as: Element.Type) throws(HDF5Error) -> Int {
        guard let rows else { return try dataset.read(as: Element.self).count }
        return try dataset.readRows(rows, as: Element.self).count
    }
}
