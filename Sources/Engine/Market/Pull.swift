import Foundation

extension MarketVersion {
    /// Copies the version out of the store into `folder` (which must not exist): its files by
    /// their manifest paths, `manifest.json` (the exact bytes signed) and `manifest.sig`. Every
    /// file's digest is checked in the store and again in the copy; the folder appears whole or
    /// not at all.
    public func pull(from artifacts: ArtifactStore, to folder: String) throws -> [ModelManifest.File] {
        let manager = FileManager.default
        guard !manager.fileExists(atPath: folder) else {
            throw EngineError("\(folder) exists already; pull into a new folder")
        }
        let manifest = try manifest()
        let parent = (Workspace.absolute(folder) as NSString).deletingLastPathComponent
        try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let staging = "\(parent)/.pull-\(UUID().uuidString)"
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: false)
        do {
            for file in manifest.files {
                guard !file.path.contains("/"), !file.path.hasPrefix("."), !file.path.isEmpty else {
                    throw EngineError("\(reference): the file name '\(file.path)' is not a plain file name")
                }
                let source = try artifacts.verifiedPath(file.sha256)
                let target = "\(staging)/\(file.path)"
                try manager.copyItem(atPath: source, toPath: target)
                chmod(target, 0o644)
                let copied = try Digest.sha256(ofFile: target)
                guard copied.digest == file.sha256, copied.size == file.size else {
                    throw EngineError("\(reference): the copy of \(file.path) does not have the digest the manifest gives")
                }
            }
            try manifestBytes.write(to: URL(fileURLWithPath: "\(staging)/manifest.json"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try (encoder.encode(signatureRecord) + Data("\n".utf8)).write(to: URL(fileURLWithPath: "\(staging)/manifest.sig"))
            guard rename(staging, folder) == 0 else {
                throw EngineError("cannot move the pulled files to \(folder): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? manager.removeItem(atPath: staging)
            throw error
        }
        return manifest.files
    }
}
