import Foundation

/// The folder that holds a Blacktail home: the store, the artifacts, and the task folders.
///
/// ```
/// .blacktail/
///   store.sqlite            runs, tasks, attempts, outputs, cache, schedules (WAL)
///   artifacts/ab/cdef...    content-addressed files, read-only
///   staging/                copies of project files on their way into artifacts/
///   tasks/RUN/NODE/ATTEMPT/ command or op arguments, stdout, stderr, exit status, outputs
///   keys/                   the Ed25519 keys that sign published models (owner only)
/// ```
public struct Workspace: Sendable {
    public let root: String

    /// `--home`, else `BLACKTAIL_HOME`, else `.blacktail` in the current folder.
    public init(home: String? = nil) {
        let chosen = home ?? ProcessInfo.processInfo.environment["BLACKTAIL_HOME"] ?? ".blacktail"
        root = Workspace.absolute(chosen)
    }

    public var storePath: String { "\(root)/store.sqlite" }
    public var artifacts: ArtifactStore { ArtifactStore(root: "\(root)/artifacts", staging: "\(root)/staging") }
    public var tasksRoot: String { "\(root)/tasks" }
    public var keysFolder: String { "\(root)/keys" }

    /// The folder of one attempt of one task.
    public func attemptFolder(run: String, node: String, attempt: Int) -> String {
        "\(tasksRoot)/\(run)/\(Workspace.folderName(node))/\(attempt)"
    }

    public func create() throws {
        let manager = FileManager.default
        for folder in [root, "\(root)/artifacts", "\(root)/staging", tasksRoot] {
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    /// A node id as a folder name: `train[2]` stays readable, anything else unusual is replaced.
    static func folderName(_ node: String) -> String {
        String(node.map { $0.isLetter || $0.isNumber || "-_.[]".contains($0) ? $0 : "_" })
    }

    public static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
        return url.standardizedFileURL.path
    }
}
