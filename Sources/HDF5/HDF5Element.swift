internal import CHDF5

/// The element types Blacktail reads and writes.
public enum HDF5ElementType: String, Sendable, Hashable, CaseIterable {
    case float32
    case float64
    case int8
    case int16
    case int32
    case int64
    case uint8
    /// Stored as h5py stores numpy's bool: an 8-bit enum with FALSE = 0 and TRUE = 1.
    case bool
    /// Variable-length UTF-8 text.
    case string

    /// The in-memory type for reading and writing; `owned` types must be closed by the caller.
    func memoryType() -> (id: hid_t, owned: Bool) {
        switch self {
        case .float32: return (bt_H5T_NATIVE_FLOAT(), false)
        case .float64: return (bt_H5T_NATIVE_DOUBLE(), false)
        case .int8: return (bt_H5T_NATIVE_INT8(), false)
        case .int16: return (bt_H5T_NATIVE_INT16(), false)
        case .int32: return (bt_H5T_NATIVE_INT32(), false)
        case .int64: return (bt_H5T_NATIVE_INT64(), false)
        case .uint8: return (bt_H5T_NATIVE_UINT8(), false)
        case .bool:
            let type = H5Tenum_create(bt_H5T_NATIVE_INT8())
            var no: Int8 = 0
            var yes: Int8 = 1
            H5Tenum_insert(type, "FALSE", &no)
            H5Tenum_insert(type, "TRUE", &yes)
            return (type, true)
        case .string:
            let type = H5Tcopy(bt_H5T_C_S1())
            H5Tset_size(type, bt_H5T_VARIABLE())
            H5Tset_cset(type, H5T_CSET_UTF8)
            return (type, true)
        }
    }

    /// The element type a stored datatype reads best as, or nil for types Blacktail does not read
    /// (compounds, references, opaque data).
    static func stored(_ type: hid_t) -> HDF5ElementType? {
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            return H5Tget_size(type) <= 4 ? .float32 : .float64
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (H5Tget_size(type), signed) {
            case (1, true): return .int8
            case (1, false): return .uint8
            case (2, _): return .int16
            case (4, _): return .int32
            default: return .int64
            }
        case H5T_ENUM:
            return H5Tget_nmembers(type) == 2 && H5Tget_size(type) == 1 ? .bool : nil
        case H5T_STRING:
            return .string
        default:
            return nil
        }
    }

    var isNumeric: Bool { self != .string && self != .bool }
}

/// A Swift type that can be an element of an HDF5 dataset or attribute.
public protocol HDF5Element: Sendable {
    static var hdf5ElementType: HDF5ElementType { get }
}

extension Float: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .float32 } }
extension Double: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .float64 } }
extension Int8: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .int8 } }
extension Int16: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .int16 } }
extension Int32: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .int32 } }
extension Int64: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .int64 } }
extension UInt8: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .uint8 } }
extension Bool: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .bool } }
