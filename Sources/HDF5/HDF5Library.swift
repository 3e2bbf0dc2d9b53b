internal import CHDF5

/// Process-wide setup of the HDF5 library and the checks every call goes through.
enum HDF5Library {
    private static let initialized: Void = {
        // Blacktail closes every object itself; the library's own clean-up at exit would only
        // complain about per-thread error stacks it cannot free.
        H5dont_atexit()
        H5open()
    }()

    /// Opens the library once, and turns HDF5's own error printing off for the calling thread: the
    /// setting is per thread in this thread-safe build, and work moves between threads, so every
    /// public entry point calls this first. It costs one call into the library.
    static func ensureInitialized() {
        _ = initialized
        bt_silence_errors()
    }

    /// HDF5's error stack for the calling thread, cleared as it is read.
    static func takeErrorStack() -> [String] {
        var buffer = [CChar](repeating: 0, count: 8192)
        let length = buffer.withUnsafeMutableBufferPointer { bt_take_error_stack($0.baseAddress, $0.count) }
        guard length > 0 else { return [] }
        let text = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The error for a failed call: the kind is read from HDF5's stack where it says more.
    static func error(
        _ kind: HDF5Error.Kind = .library,
        file: String,
        object: String? = nil,
        _ message: String
    ) -> HDF5Error {
        let stack = takeErrorStack()
        var kind = kind
        var message = message
        let details = stack.joined(separator: " ")
        if details.contains("errno = 2,") {
            kind = .fileNotFound
            message = "no such file"
        } else if details.contains("errno = 17,") {
            kind = .alreadyExists
            message = "the file exists already"
        } else if details.contains("errno = 13,") {
            kind = .library
            message = "permission denied"
        } else if details.contains("file signature not found") {
            kind = .notHDF5
            message = "not an HDF5 file (no HDF5 signature); it may be another format, or empty"
        } else if details.contains("truncated file") {
            kind = .notHDF5
            message = "the file is truncated: it ends before its HDF5 structures do"
        } else if let innermost = stack.last, kind == .library {
            message += ": \(innermost)"
        }
        return HDF5Error(kind, file: file, object: object, message, stack: stack)
    }

    /// The names HDF5 lists by index (links of a group, attributes of an object): `nameAt` writes
    /// the name of entry `index` into a buffer of `size` bytes, or returns its length when given none.
    static func names(count: Int, _ nameAt: (_ index: Int, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int) -> [String]? {
        var names: [String] = []
        for index in 0..<count {
            let length = nameAt(index, nil, 0)
            guard length >= 0 else { return nil }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = buffer.withUnsafeMutableBufferPointer { nameAt(index, $0.baseAddress, length + 1) }
            names.append(String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// The number of HDF5 objects (files, groups, datasets, attributes) open in the process, in
    /// the file at `path` only when it is given.
    static func openObjectCount(inFile path: String?) -> Int {
        ensureInitialized()
        let all = hid_t(bt_H5F_OBJ_ALL())
        let count = Int(H5Fget_obj_count(all, bt_H5F_OBJ_ALL()))
        guard let path, count > 0 else { return path == nil ? count : 0 }
        var ids = [hid_t](repeating: -1, count: count)
        let listed = Int(H5Fget_obj_ids(all, bt_H5F_OBJ_ALL(), count, &ids))
        var matching = 0
        for id in ids.prefix(max(listed, 0)) {
            let length = H5Fget_name(id, nil, 0)
            guard length > 0 else { continue }
            var name = [CChar](repeating: 0, count: length + 1)
            H5Fget_name(id, &name, length + 1)
            if String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) == path { matching += 1 }
        }
        return matching
    }
}

/// An open HDF5 identifier, closed exactly once, at the latest when its owner is released.
final class HDF5Handle {
    enum Kind {
        case file
        case group
        case dataset
        case dataspace
        case datatype
        case attribute
        case propertyList
    }

    private(set) var id: hid_t
    let kind: Kind

    init(_ id: hid_t, _ kind: Kind) {
        self.id = id
        self.kind = kind
    }

    var isOpen: Bool { id >= 0 }

    func close() {
        guard id >= 0 else { return }
        switch kind {
        case .file: H5Fclose(id)
        case .group: H5Gclose(id)
        case .dataset: H5Dclose(id)
        case .dataspace: H5Sclose(id)
        case .datatype: H5Tclose(id)
        case .attribute: H5Aclose(id)
        case .propertyList: H5Pclose(id)
        }
        id = -1
    }

    deinit {
        close()
    }
}
