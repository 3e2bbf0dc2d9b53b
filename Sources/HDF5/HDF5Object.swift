import Foundation
internal import CHDF5

/// A group or a dataset: something with a path in a file and attributes.
public class HDF5Object {
    /// The file it belongs to; kept alive while the object is.
    public let file: HDF5File
    /// The object's path in the file.
    public let path: String
    let handle: HDF5Handle

    init(file: HDF5File, path: String, handle: HDF5Handle) {
        self.file = file
        self.path = path
        self.handle = handle
    }

    func failure(_ message: String, kind: HDF5Error.Kind = .library) -> HDF5Error {
        HDF5Library.error(kind, file: file.path, object: path, message)
    }

    /// Closes the object now rather than when it is released.
    public func close() {
        HDF5Library.ensureInitialized()
        handle.close()
    }

    // MARK: Attributes

    /// The names of the object's attributes.
    public var attributeNames: [String] {
        get throws(HDF5Error) {
            HDF5Library.ensureInitialized()
            var info = H5O_info_t()
            guard H5Oget_info2(handle.id, &info, UInt32(H5O_INFO_NUM_ATTRS)) >= 0 else { throw failure("cannot list the attributes") }
            let names = HDF5Library.names(count: Int(info.num_attrs)) { index, buffer, size in
                H5Aget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), buffer, size, bt_H5P_DEFAULT())
            }
            guard let names else { throw failure("cannot read an attribute's name") }
            return names
        }
    }

    public func hasAttribute(_ name: String) -> Bool {
        HDF5Library.ensureInitialized()
        return H5Aexists(handle.id, name) > 0
    }

    /// Writes an attribute, replacing one of the same name.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue) throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        if hasAttribute(name), H5Adelete(handle.id, name) < 0 { throw failure("cannot replace attribute '\(name)'") }
        let (elementType, count, isScalar) = value.shape
        let (type, owned) = elementType.memoryType()
        defer { if owned { H5Tclose(type) } }
        var dimension = hsize_t(count)
        let spaceID = isScalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dimension, nil)
        let space = HDF5Handle(spaceID, .dataspace)
        let attributeID = H5Acreate2(handle.id, name, type, space.id, bt_H5P_DEFAULT(), bt_H5P_DEFAULT())
        guard attributeID >= 0 else { throw failure("cannot create attribute '\(name)'") }
        let attribute = HDF5Handle(attributeID, .attribute)
        let status: herr_t = switch value {
        case .int(let int): withUnsafePointer(to: int) { H5Awrite(attribute.id, type, $0) }
        case .double(let double): withUnsafePointer(to: double) { H5Awrite(attribute.id, type, $0) }
        case .ints(let ints): ints.withUnsafeBufferPointer { H5Awrite(attribute.id, type, $0.baseAddress) }
        case .doubles(let doubles): doubles.withUnsafeBufferPointer { H5Awrite(attribute.id, type, $0.baseAddress) }
        case .string(let string): HDF5Strings.write([string]) { H5Awrite(attribute.id, type, $0) }
        case .strings(let strings): HDF5Strings.write(strings) { H5Awrite(attribute.id, type, $0) }
        }
        guard status >= 0 else { throw failure("cannot write attribute '\(name)'") }
    }

    /// Removes an attribute; nothing happens when there is none of that name.
    public func removeAttribute(_ name: String) throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        if hasAttribute(name), H5Adelete(handle.id, name) < 0 { throw failure("cannot remove attribute '\(name)'") }
    }

    /// Reads an attribute, or nil when there is none of that name.
    /// - Throws: ``HDF5Error`` when it exists but is of a kind Blacktail does not read.
    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue? {
        HDF5Library.ensureInitialized()
        guard hasAttribute(name) else { return nil }
        let attributeID = H5Aopen(handle.id, name, bt_H5P_DEFAULT())
        guard attributeID >= 0 else { throw failure("cannot open attribute '\(name)'") }
        let attribute = HDF5Handle(attributeID, .attribute)
        let type = HDF5Handle(H5Aget_type(attribute.id), .datatype)
        let space = HDF5Handle(H5Aget_space(attribute.id), .dataspace)
        let count = Int(H5Sget_simple_extent_npoints(space.id))
        let isScalar = H5Sget_simple_extent_type(space.id) == H5S_SCALAR
        guard let stored = HDF5ElementType.stored(type.id) else {
            throw HDF5Error(.typeMismatch, file: file.path, object: path, "attribute '\(name)' has a type Blacktail does not read")
        }
        switch stored {
        case .string:
            let strings = try HDF5Strings.read(count: count, storedType: type.id, space: space.id, file: file.path, object: path) { memoryType, buffer in
                H5Aread(attribute.id, memoryType, buffer)
            }
            return isScalar ? .string(strings.first ?? "") : .strings(strings)
        case .float32, .float64:
            var values = [Double](repeating: 0, count: count)
            guard values.withUnsafeMutableBufferPointer({ H5Aread(attribute.id, bt_H5T_NATIVE_DOUBLE(), $0.baseAddress) }) >= 0 else {
                throw failure("cannot read attribute '\(name)'")
            }
            return isScalar ? .double(values[0]) : .doubles(values)
        default:
            var values = [Int64](repeating: 0, count: count)
            let (memoryType, owned) = stored == .bool ? HDF5ElementType.bool.memoryType() : (bt_H5T_NATIVE_INT64(), false)
            defer { if owned { H5Tclose(memoryType) } }
            if stored == .bool {
                var bytes = [Int8](repeating: 0, count: count)
                guard bytes.withUnsafeMutableBufferPointer({ H5Aread(attribute.id, memoryType, $0.baseAddress) }) >= 0 else {
                    throw failure("cannot read attribute '\(name)'")
                }
                values = bytes.map(Int64.init)
            } else {
                guard values.withUnsafeMutableBufferPointer({ H5Aread(attribute.id, memoryType, $0.baseAddress) }) >= 0 else {
                    throw failure("cannot read attribute '\(name)'")
                }
            }
            return isScalar ? .int(values[0]) : .ints(values)
        }
    }
}

/// The value of an attribute: a number, a string, or a one-dimensional list of them.
public enum HDF5AttributeValue: Sendable, Hashable {
    case int(Int64)
    case double(Double)
    case string(String)
    case ints([Int64])
    case doubles([Double])
    case strings([String])

    var shape: (HDF5ElementType, count: Int, isScalar: Bool) {
        switch self {
        case .int: (.int64, 1, true)
        case .double: (.float64, 1, true)
        case .string: (.string, 1, true)
        case .ints(let values): (.int64, values.count, false)
        case .doubles(let values): (.float64, values.count, false)
        case .strings(let values): (.string, values.count, false)
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        if case .strings(let values) = self, values.count == 1 { return values[0] }
        return nil
    }

    public var stringsValue: [String]? {
        switch self {
        case .strings(let values): values
        case .string(let value): [value]
        default: nil
        }
    }

    public var intValue: Int64? {
        switch self {
        case .int(let value): value
        case .ints(let values) where values.count == 1: values[0]
        default: nil
        }
    }

    /// The integers of an integer list, or of a single integer, as a list.
    public var intsValue: [Int64]? {
        switch self {
        case .ints(let values): values
        case .int(let value): [value]
        default: nil
        }
    }

    /// The numbers of a float list, or of a single float, as a list.
    public var doublesValue: [Double]? {
        switch self {
        case .doubles(let values): values
        case .double(let value): [value]
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        case .doubles(let values) where values.count == 1: values[0]
        default: nil
        }
    }
}

/// Variable-length and fixed-length string I/O.
enum HDF5Strings {
    /// Calls `write` with an array of C strings for `strings`, freed afterwards.
    static func write(_ strings: [String], _ write: (UnsafeRawPointer) -> herr_t) -> herr_t {
        let pointers = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { write(UnsafeRawPointer($0.baseAddress!)) }
    }

    /// Reads `count` strings stored as variable- or fixed-length text, through `read`.
    static func read(
        count: Int,
        storedType: hid_t,
        space: hid_t,
        file: String,
        object: String,
        _ read: (hid_t, UnsafeMutableRawPointer) -> herr_t
    ) throws(HDF5Error) -> [String] {
        guard count > 0 else { return [] }
        if H5Tis_variable_str(storedType) > 0 {
            let (memoryType, _) = HDF5ElementType.string.memoryType()
            defer { H5Tclose(memoryType) }
            // Read in the stored character set: HDF5 does not convert between ASCII and UTF-8.
            H5Tset_cset(memoryType, H5Tget_cset(storedType))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let status = pointers.withUnsafeMutableBufferPointer { read(memoryType, UnsafeMutableRawPointer($0.baseAddress!)) }
            guard status >= 0 else { throw HDF5Library.error(file: file, object: object, "cannot read the strings") }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            pointers.withUnsafeMutableBufferPointer { _ = H5Dvlen_reclaim(memoryType, space, bt_H5P_DEFAULT(), $0.baseAddress) }
            return strings
        }
        let size = H5Tget_size(storedType)
        let memoryType = H5Tcopy(bt_H5T_C_S1())
        defer { H5Tclose(memoryType) }
        H5Tset_size(memoryType, size)
        H5Tset_strpad(memoryType, H5T_STR_NULLPAD)
        H5Tset_cset(memoryType, H5Tget_cset(storedType))
        var bytes = [UInt8](repeating: 0, count: size * count)
        let status = bytes.withUnsafeMutableBufferPointer { read(memoryType, UnsafeMutableRawPointer($0.baseAddress!)) }
        guard status >= 0 else { throw HDF5Library.error(file: file, object: object, "cannot read the strings") }
        return (0..<count).map { index in
            let slice = bytes[(index * size)..<((index + 1) * size)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
