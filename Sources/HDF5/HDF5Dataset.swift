internal import CHDF5
#if canImport(Glibc)
import Glibc
#endif

/// A dataset: an N-dimensional array of one element type. Its first dimension counts rows.
public final class HDF5Dataset: HDF5Object {
    /// The dataset's dimensions when it was opened (or after the last append).
    public private(set) var shape: [Int]
    /// The element type the stored data reads as, or nil when Blacktail cannot read it.
    public let elementType: HDF5ElementType?

    private init(file: HDF5File, path: String, handle: HDF5Handle, shape: [Int], elementType: HDF5ElementType?) {
        self.shape = shape
        self.elementType = elementType
        super.init(file: file, path: path, handle: handle)
    }

    /// Wraps an open dataset identifier, reading its shape and type.
    static func opened(file: HDF5File, path: String, handle: HDF5Handle) throws(HDF5Error) -> HDF5Dataset {
        let space = HDF5Handle(H5Dget_space(handle.id), .dataspace)
        let type = HDF5Handle(H5Dget_type(handle.id), .datatype)
        guard space.isOpen, type.isOpen else {
            throw HDF5Library.error(file: file.path, object: path, "cannot read the dataset's shape and type")
        }
        return HDF5Dataset(
            file: file, path: path, handle: handle,
            shape: dimensions(of: space.id), elementType: HDF5ElementType.stored(type.id)
        )
    }

    private static func dimensions(of space: hid_t) -> [Int] {
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank > 0 else { return [] }
        var dimensions = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dimensions, nil)
        return dimensions.map { Int($0) }
    }

    /// The number of rows (the first dimension; 1 for a scalar).
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements in one row: the product of the other dimensions.
    public var rowWidth: Int { shape.dropFirst().reduce(1, *) }
    public var elementCount: Int { shape.reduce(1, *) }

    // MARK: Reading

    /// Reads the whole dataset, converting numbers to `Element` as HDF5 does (an int64 file reads as
    /// Float, a float64 as Float32).
    /// - Throws: ``HDF5Error`` when the stored type cannot become `Element` (text as numbers).
    public func read<Element: HDF5Element>(as: Element.Type = Element.self) throws(HDF5Error) -> [Element] {
        HDF5Library.ensureInitialized()
        return try readSelection(as: Element.self, rows: 0..<rowCount, select: nil)
    }

    /// Reads rows `range` (all columns), without reading the rest.
    public func readRows<Element: HDF5Element>(_ range: Range<Int>, as: Element.Type = Element.self) throws(HDF5Error) -> [Element] {
        HDF5Library.ensureInitialized()
        guard !shape.isEmpty, range.lowerBound >= 0, range.upperBound <= rowCount else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "rows \(range.lowerBound)..<\(range.upperBound) are outside the dataset's \(rowCount) rows")
        }
        return try readSelection(as: Element.self, rows: range, select: { space in
            var start = [hsize_t(range.lowerBound)] + self.shape.dropFirst().map { _ in 0 }
            var count = [hsize_t(range.count)] + self.shape.dropFirst().map { hsize_t($0) }
            return H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nil, &count, nil)
        })
    }

    /// Reads the rows at `indices`, in the order given (repeats allowed): a shuffled minibatch.
    ///
    /// The rows are read in file order, consecutive ones as one block, and then arranged as asked.
    public func readRows<Element: HDF5Element>(at indices: [Int], as: Element.Type = Element.self) throws(HDF5Error) -> [Element] {
        HDF5Library.ensureInitialized()
        guard !indices.isEmpty else { return [] }
        guard !shape.isEmpty, let low = indices.min(), let high = indices.max(), low >= 0, high < rowCount else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "a row index is outside the dataset's \(rowCount) rows")
        }
        let unique = Array(Set(indices)).sorted()
        var runs: [(start: Int, count: Int)] = []
        for index in unique {
            if let last = runs.last, last.start + last.count == index {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((index, 1))
            }
        }
        let width = rowWidth
        let sorted: [Element] = try readSelection(as: Element.self, rows: 0..<unique.count, select: { space in
            H5Sselect_none(space)
            for run in runs {
                var start = [hsize_t(run.start)] + self.shape.dropFirst().map { _ in 0 }
                var count = [hsize_t(run.count)] + self.shape.dropFirst().map { hsize_t($0) }
                guard H5Sselect_hyperslab(space, H5S_SELECT_OR, &start, nil, &count, nil) >= 0 else { return -1 }
            }
            return 0
        })
        var position: [Int: Int] = [:]
        for (offset, index) in unique.enumerated() { position[index] = offset }
        var result: [Element] = []
        result.reserveCapacity(indices.count * width)
        for index in indices {
            let offset = position[index]! * width
            result.append(contentsOf: sorted[offset..<(offset + width)])
        }
        return result
    }

    /// Reads the whole dataset as text.
    public func readStrings() throws(HDF5Error) -> [String] {
        HDF5Library.ensureInitialized()
        guard elementType == .string else {
            throw HDF5Error(.typeMismatch, file: file.path, object: path, "holds \(elementType?.rawValue ?? "an unreadable type"), not strings")
        }
        let type = HDF5Handle(H5Dget_type(handle.id), .datatype)
        let space = HDF5Handle(H5Dget_space(handle.id), .dataspace)
        return try HDF5Strings.read(count: elementCount, storedType: type.id, space: space.id, file: file.path, object: path) { memoryType, buffer in
            H5Dread(handle.id, memoryType, bt_H5S_ALL(), bt_H5S_ALL(), bt_H5P_DEFAULT(), buffer)
        }
    }

    /// Reads `rows` rows chosen by `select` (all of them when nil) into a new array.
    private func readSelection<Element: HDF5Element>(
        as: Element.Type,
        rows: Range<Int>,
        select: ((hid_t) -> herr_t)?
    ) throws(HDF5Error) -> [Element] {
        let wanted = Element.hdf5ElementType
        guard let stored = elementType else {
            throw HDF5Error(.typeMismatch, file: file.path, object: path, "has a type Blacktail does not read")
        }
        guard stored.isNumeric == wanted.isNumeric || (stored == .bool && wanted == .bool) else {
            throw HDF5Error(.typeMismatch, file: file.path, object: path, "holds \(stored.rawValue) values, which cannot be read as \(wanted.rawValue)")
        }
        let count = shape.isEmpty ? 1 : rows.count * rowWidth
        guard count > 0 else { return [] }
        let (memoryType, owned) = wanted.memoryType()
        defer { if owned { H5Tclose(memoryType) } }
        var fileSpace = bt_H5S_ALL()
        var memorySpace = bt_H5S_ALL()
        var spaces: [HDF5Handle] = []
        if let select {
            let space = HDF5Handle(H5Dget_space(handle.id), .dataspace)
            guard select(space.id) >= 0 else { throw HDF5Library.error(file: file.path, object: path, "cannot select the rows") }
            let memory = Self.memorySpace(rows: rows.count, of: shape)
            spaces = [space, memory]
            (fileSpace, memorySpace) = (space.id, memory.id)
        }
        defer { spaces.forEach { $0.close() } }
        if wanted == .bool {
            var bytes = [Int8](repeating: 0, count: count)
            let status = bytes.withUnsafeMutableBufferPointer { H5Dread(handle.id, memoryType, memorySpace, fileSpace, bt_H5P_DEFAULT(), $0.baseAddress) }
            guard status >= 0 else { throw HDF5Library.error(.typeMismatch, file: file.path, object: path, "cannot read as bool") }
            return bytes.map { ($0 != 0) as! Element }
        }
        let values = try [Element](unsafeUninitializedCapacity: count) { buffer, initialized throws(HDF5Error) in
            Self.adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            let status = H5Dread(handle.id, memoryType, memorySpace, fileSpace, bt_H5P_DEFAULT(), buffer.baseAddress)
            guard status >= 0 else {
                throw HDF5Library.error(.typeMismatch, file: file.path, object: path, "cannot read the data as \(wanted.rawValue)")
            }
            initialized = count
        }
        return values
    }

    /// A memory dataspace of `rows` whole rows, shaped like the file's selection so that HDF5 copies
    /// blocks rather than walking element by element.
    private static func memorySpace(rows: Int, of shape: [Int]) -> HDF5Handle {
        var dimensions = [hsize_t(rows)] + shape.dropFirst().map { hsize_t($0) }
        return HDF5Handle(H5Screate_simple(Int32(dimensions.count), &dimensions, nil), .dataspace)
    }

    /// Asks Linux to back a large, fresh read buffer with huge pages, as numpy does for its arrays:
    /// filling it then takes a fraction of the page faults. Only the 2 MiB-aligned inside is advised.
    private static func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
        let hugePage = 2 << 20
        guard let base = buffer.baseAddress, buffer.count >= 2 * hugePage else { return }
        let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
        let end = (Int(bitPattern: base) + buffer.count) & ~(hugePage - 1)
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, MADV_HUGEPAGE)
        #endif
    }

    // MARK: Writing

    /// Writes the whole dataset; `values` holds every element, row after row.
    public func write<Element: HDF5Element>(_ values: [Element]) throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        try checkWritable(Element.self, count: values.count, expected: elementCount)
        try write(values, fileSpace: bt_H5S_ALL(), memorySpace: bt_H5S_ALL())
    }

    /// Appends rows to an extendable dataset (created with `.chunked(extendable: true)`).
    public func append<Element: HDF5Element>(_ rows: [Element]) throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        guard !shape.isEmpty, rowWidth > 0 else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "rows cannot be appended to a scalar or empty-row dataset")
        }
        guard rows.count % rowWidth == 0 else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "\(rows.count) values are not whole rows of \(rowWidth)")
        }
        try checkWritable(Element.self, count: rows.count, expected: rows.count)
        let added = rows.count / rowWidth
        guard added > 0 else { return }
        var newShape = shape
        newShape[0] += added
        var extent = newShape.map { hsize_t($0) }
        guard H5Dset_extent(handle.id, &extent) >= 0 else {
            throw HDF5Library.error(.invalidArgument, file: file.path, object: path, "cannot grow the dataset (was it created extendable?)")
        }
        let space = HDF5Handle(H5Dget_space(handle.id), .dataspace)
        var start = [hsize_t(shape[0])] + shape.dropFirst().map { _ in 0 }
        var count = [hsize_t(added)] + shape.dropFirst().map { hsize_t($0) }
        H5Sselect_hyperslab(space.id, H5S_SELECT_SET, &start, nil, &count, nil)
        let memory = Self.memorySpace(rows: added, of: shape)
        try write(rows, fileSpace: space.id, memorySpace: memory.id)
        shape = newShape
    }

    /// Overwrites whole rows, starting at row `start`; `values` holds whole rows.
    public func writeRows<Element: HDF5Element>(_ values: [Element], startingAt start: Int) throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        guard !shape.isEmpty, rowWidth > 0, values.count % rowWidth == 0 else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "\(values.count) values are not whole rows of \(rowWidth)")
        }
        let rows = values.count / rowWidth
        guard start >= 0, start + rows <= rowCount else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "rows \(start)..<\(start + rows) are outside the dataset's \(rowCount) rows")
        }
        try checkWritable(Element.self, count: values.count, expected: values.count)
        guard rows > 0 else { return }
        let space = HDF5Handle(H5Dget_space(handle.id), .dataspace)
        var offset = [hsize_t(start)] + shape.dropFirst().map { _ in 0 }
        var count = [hsize_t(rows)] + shape.dropFirst().map { hsize_t($0) }
        H5Sselect_hyperslab(space.id, H5S_SELECT_SET, &offset, nil, &count, nil)
        let memory = Self.memorySpace(rows: rows, of: shape)
        try write(values, fileSpace: space.id, memorySpace: memory.id)
    }

    /// Writes the whole dataset as text.
    public func write(strings: [String]) throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        guard elementType == .string else {
            throw HDF5Error(.typeMismatch, file: file.path, object: path, "holds \(elementType?.rawValue ?? "an unreadable type"), not strings")
        }
        guard strings.count == elementCount else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "\(strings.count) strings given for \(elementCount) elements")
        }
        let (type, _) = HDF5ElementType.string.memoryType()
        defer { H5Tclose(type) }
        let status = HDF5Strings.write(strings) { H5Dwrite(handle.id, type, bt_H5S_ALL(), bt_H5S_ALL(), bt_H5P_DEFAULT(), $0) }
        guard status >= 0 else { throw HDF5Library.error(file: file.path, object: path, "cannot write the strings") }
    }

    private func checkWritable<Element: HDF5Element>(_: Element.Type, count: Int, expected: Int) throws(HDF5Error) {
        guard let stored = elementType, stored == Element.hdf5ElementType || (stored.isNumeric && Element.hdf5ElementType.isNumeric) else {
            throw HDF5Error(.typeMismatch, file: file.path, object: path, "holds \(elementType?.rawValue ?? "an unreadable type"), not \(Element.hdf5ElementType.rawValue)")
        }
        guard count == expected else {
            throw HDF5Error(.shapeMismatch, file: file.path, object: path, "\(count) values given for a dataset of shape \(shape) (\(expected) values)")
        }
    }

    private func write<Element: HDF5Element>(_ values: [Element], fileSpace: hid_t, memorySpace: hid_t) throws(HDF5Error) {
        let (type, owned) = Element.hdf5ElementType.memoryType()
        defer { if owned { H5Tclose(type) } }
        let status: herr_t
        if Element.self == Bool.self {
            let bytes = values.map { ($0 as! Bool) ? Int8(1) : Int8(0) }
            status = bytes.withUnsafeBufferPointer { H5Dwrite(handle.id, type, memorySpace, fileSpace, bt_H5P_DEFAULT(), $0.baseAddress) }
        } else {
            status = values.withUnsafeBufferPointer { H5Dwrite(handle.id, type, memorySpace, fileSpace, bt_H5P_DEFAULT(), $0.baseAddress) }
        }
        guard status >= 0 else { throw HDF5Library.error(file: file.path, object: path, "cannot write the data") }
    }
}
