import Foundation

/// Files stored by the sha256 of their bytes, under `artifacts/ab/cdef...`.
///
/// A file enters the store by an atomic rename from the same file system, after its digest is
/// computed, so a reader never sees half a file; stored files are read-only. Readers verify the
/// digest before they use a file (``verifiedPath(_:)``): a file changed or damaged on disk is
/// reported, never read.
public struct ArtifactStore: Sendable {
    public let root: String
    /// Where files wait before they are moved in; on the same file system as `root`.
    public let staging: String

    public init(root: String, staging: String) {
        self.root = root
        self.staging = staging
    }

    public func path(of digest: String) -> String {
        precondition(Digest.isValid(digest), "not a sha256 digest: \(digest)")
        return "\(root)/\(digest.prefix(2))/\(digest.dropFirst(2))"
    }

    public func contains(_ digest: String) -> Bool {
        Digest.isValid(digest) && FileManager.default.fileExists(atPath: path(of: digest))
    }

    /// Moves a finished file into the store (the file is consumed) and returns its digest and size.
    /// A file with the same bytes already there is kept, and the new one removed.
    @discardableResult
    public func ingest(moving file: String) throws -> (digest: String, size: Int64) {
        let (digest, size) = try Digest.sha256(ofFile: file)
        let target = path(of: digest)
        let manager = FileManager.default
        if manager.fileExists(atPath: target) {
            try? manager.removeItem(atPath: file)
            return (digest, size)
        }
        try manager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        chmod(file, 0o444)
        guard rename(file, target) == 0 else {
            throw EngineError("cannot move \(file) into the artifact store: \(String(cString: strerror(errno)))")
        }
        return (digest, size)
    }

    /// Copies a file into the store (the file is left as it is). A file whose bytes are stored
    /// already is only read, not copied.
    @discardableResult
    public func ingest(copying file: String) throws -> (digest: String, size: Int64) {
        let (digest, size) = try Digest.sha256(ofFile: file)
        if contains(digest) { return (digest, size) }
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let temporary = "\(staging)/copy-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: file, toPath: temporary)
        // The copy is hashed again: the digest recorded is that of the bytes kept.
        return try ingest(moving: temporary)
    }

    /// The path of a stored file after checking that its bytes still have their digest.
    public func verifiedPath(_ digest: String) throws -> String {
        guard Digest.isValid(digest) else { throw EngineError("'\(digest)' is not a sha256 digest") }
        let file = path(of: digest)
        guard FileManager.default.fileExists(atPath: file) else {
            throw EngineError("artifact \(digest.prefix(12)) is missing from the store (\(file)); it may have been removed by 'blacktail gc'")
        }
        let actual = try Digest.sha256(ofFile: file).digest
        guard actual == digest else {
            throw EngineError("artifact \(digest.prefix(12)) is corrupt: \(file) now has sha256 \(actual.prefix(12)); re-run the step that made it")
        }
        return file
    }

    /// Every digest in the store.
    public func allDigests() throws -> [String] {
        let manager = FileManager.default
        guard let prefixes = try? manager.contentsOfDirectory(atPath: root) else { return [] }
        var digests: [String] = []
        for prefix in prefixes where prefix.count == 2 {
            for rest in (try? manager.contentsOfDirectory(atPath: "\(root)/\(prefix)")) ?? [] {
                let digest = prefix + rest
                if Digest.isValid(digest) { digests.append(digest) }
            }
        }
        return digests.sorted()
    }

    public func remove(_ digest: String) throws -> Int64 {
        let file = path(of: digest)
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0
        try FileManager.default.removeItem(atPath: file)
        unlink(readsWholeMark(digest))
        return size
    }

    // MARK: HDF5 files known to read whole

    /// Where the mark that a stored HDF5 file reads whole is kept: beside the file, under a name
    /// that is not a digest, so that ``allDigests()`` passes over it.
    private func readsWholeMark(_ digest: String) -> String { path(of: digest) + ".reads-whole" }

    /// Whether the stored file is an HDF5 file known to read whole: one Blacktail wrote, or one
    /// an ``HDF5Verifier`` read in a child process. Stored files never change, so this holds for
    /// as long as the file is stored.
    public func readsWhole(_ digest: String) -> Bool {
        Digest.isValid(digest) && FileManager.default.fileExists(atPath: readsWholeMark(digest))
    }

    public func markReadsWhole(_ digest: String) {
        let mark = readsWholeMark(digest)
        close(open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0o444))
    }
}
