internal import CHDF5
import Foundation

/// An HDF5 file, open until ``close()`` or until it is released.
///
/// ```swift
/// try HDF5File.withFile(at: "train.h5") { file in
///     let features: [Float] = try file.root.dataset("features").read()
/// }
/// ```
/// Closing the file closes every group, dataset and attribute opened through it (HDF5's "strong"
/// close degree), so no handle outlives its file.
public final class HDF5File {
    public enum Mode: Sendable {
        case readOnly
        case readWrite
    }

    /// The path the file was opened with, as errors name it.
    public let path: String
    let handle: HDF5Handle

    private init(path: String, id: hid_t) {
        self.path = path
        self.handle = HDF5Handle(id, .file)
    }

    /// Creates a file, replacing one at the path only when `overwrite` is true.
    /// - Throws: ``HDF5Error`` when the file exists (without `overwrite`) or cannot be written.
    public static func create(at path: String, overwrite: Bool = false) throws(HDF5Error) -> HDF5File {
        HDF5Library.ensureInitialized()
        let access = try fileAccess(path)
        defer { access.close() }
        let creation = HDF5Handle(H5Pcreate(bt_H5P_FILE_CREATE()), .propertyList)
        H5Pset_obj_track_times(creation.id, false)
        let id = H5Fcreate(path, overwrite ? bt_H5F_ACC_TRUNC() : bt_H5F_ACC_EXCL(), creation.id, access.id)
        guard id >= 0 else { throw HDF5Library.error(.library, file: path, "cannot create the file") }
        return HDF5File(path: path, id: id)
    }

    /// Opens an existing file.
    /// - Throws: ``HDF5Error`` for a missing, unreadable, truncated or non-HDF5 file.
    public static func open(at path: String, mode: Mode = .readOnly) throws(HDF5Error) -> HDF5File {
        HDF5Library.ensureInitialized()
        let access = try fileAccess(path)
        defer { access.close() }
        let id = H5Fopen(path, mode == .readOnly ? bt_H5F_ACC_RDONLY() : bt_H5F_ACC_RDWR(), access.id)
        guard id >= 0 else { throw HDF5Library.error(file: path, "cannot open the file") }
        return HDF5File(path: path, id: id)
    }

    /// Opens a file, runs `body` with it, and closes it whatever happens.
    public static func withFile<Result>(
        at path: String,
        mode: Mode = .readOnly,
        _ body: (HDF5File) throws -> Result
    ) throws -> Result {
        let file = try open(at: path, mode: mode)
        defer { file.close() }
        return try body(file)
    }

    private static func fileAccess(_ path: String) throws(HDF5Error) -> HDF5Handle {
        let id = H5Pcreate(bt_H5P_FILE_ACCESS())
        guard id >= 0 else { throw HDF5Library.error(file: path, "cannot set up file access") }
        H5Pset_fclose_degree(id, H5F_CLOSE_STRONG)
        // No chunk cache: whole chunks are read straight into the caller's buffer instead of through
        // a copy, and a row of an uncompressed chunk is read alone rather than with its chunk.
        H5Pset_cache(id, 0, 0, 0, 1.0)
        // No advisory locks (flock): a file has one writer by construction (it is written under a
        // fresh name and then moved into place), and a lock taken here would be held on by any
        // child process that inherits the descriptor (a command a worker starts while an op has a
        // file open), so that the next open of the file, here or by h5py, failed until the child
        // ended.
        H5Pset_file_locking(id, false, true)
        return HDF5Handle(id, .propertyList)
    }

    /// The root group, `/`.
    public var root: HDF5Group {
        get throws(HDF5Error) { try HDF5Group.open(in: self, path: "/") }
    }

    /// Writes buffered data to disk.
    public func flush() throws(HDF5Error) {
        HDF5Library.ensureInitialized()
        guard H5Fflush(handle.id, H5F_SCOPE_GLOBAL) >= 0 else { throw HDF5Library.error(file: path, "cannot flush the file") }
    }

    /// Closes the file and everything opened through it. Closing twice does nothing.
    public func close() {
        handle.close()
    }

    /// The number of HDF5 objects open in this process, for leak checks.
    public static var openObjectCount: Int { HDF5Library.openObjectCount(inFile: nil) }

    /// The number of HDF5 objects open in the file at `path` (the file itself included).
    public static func openObjectCount(inFile path: String) -> Int { HDF5Library.openObjectCount(inFile: path) }

    /// The bytes an HDF5 file starts with, at offset 0 or, after a user block, at 512, 1024, 2048, ...
    public static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Whether the file at `path` holds HDF5's signature where HDF5 looks for it. Reads a few
    /// bytes, without the HDF5 library.
    public static func hasSignature(atPath path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return false }
        var offset: UInt64 = 0
        while offset + UInt64(signature.count) <= size {
            guard (try? handle.seek(toOffset: offset)) != nil, let bytes = try? handle.read(upToCount: signature.count) else { return false }
            if Array(bytes) == signature { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }
}
