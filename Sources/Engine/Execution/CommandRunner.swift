import Foundation
import Logging
import Synchronization
import PipelineLanguage
import Subprocess
import SystemPackage

/// Runs a `run:` command with `/bin/sh -c` in its own session, its standard output and error
/// written to files as they come. Cancellation or `timeout:` sends SIGTERM to the whole process
/// group, then SIGKILL after the grace period, so a command's children stop with it; whatever is
/// left of the group when the command ends is killed too. ``CommandReaper`` kills the group should
/// this process die first. The command reads /dev/null.
package enum CommandRunner {
    /// The environment commands start from: this process's, read once.
    private static let inherited = ProcessInfo.processInfo.environment

    package static func run(
        script: String,
        workingDirectory: String,
        environment variables: [String: String],
        stdout: String,
        stderr: String,
        timeoutSeconds: Double?,
        grace: Duration
    ) async throws -> TerminationStatus {
        let output = try FileDescriptor.open(FilePath(stdout), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        let error = try FileDescriptor.open(FilePath(stderr), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        let merged = inherited.merging(variables) { _, new in new }
        // In the same order every time; each entry NUL-terminated, the raw form handed to the system as it is.
        let environment = Environment.custom(merged.sorted { $0.key < $1.key }.map { Array("\($0.key)=\($0.value)".utf8) + [0] })
        let options = {
            var options = PlatformOptions()
            options.createSession = true
            options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: grace)]
            return options
        }()
        let reaper = CommandReaper.shared
        let lifeline = try await reaper.lifeline()

        let launch: @Sendable () async throws -> TerminationStatus = {
            // In its own session, the shell leads a process group of its own number.
            var group: pid_t?
            defer { if let group { reaper.release(processGroup: group) } }
            return try await Subprocess.run(
                .path("/bin/sh"),
                arguments: ["-c", CommandReaper.prologue + script],
                environment: environment,
                workingDirectory: FilePath(workingDirectory),
                platformOptions: options,
                input: .fileDescriptor(lifeline, closeAfterSpawningProcess: false),
                output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                error: .fileDescriptor(error, closeAfterSpawningProcess: true)
            ) { execution in
                group = execution.processIdentifier.value
            }.terminationStatus
        }
        guard let timeoutSeconds else { return try await launch() }
        guard let status = try await withTimeLimit(timeoutSeconds, launch) else { throw TimeoutError(seconds: timeoutSeconds) }
        return status
    }
}

/// Runs `body` and returns what it returns, or nil when `seconds` pass first. A structured race:
/// on a time-out the body's task is cancelled (swift-subprocess then tears its process down) and
/// waited for, so whatever it started has ended when this returns.
func withTimeLimit<Result: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result? {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        if first == nil { _ = try? await group.next() }
        return first
    }
}

extension CommandRunner {
    /// `exited with status 3`, `was killed by signal 9 (SIGKILL)`.
    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal):
            let names: [Int32: String] = [1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM"]
            return "was killed by signal \(signal)\(names[signal].map { " (\($0))" } ?? "")"
        }
    }
}

/// Replaces `${{ inputs.NAME }}` and `${{ outputs.NAME }}` in a command with shell-quoted paths.
enum CommandTemplate {
    static func substitute(_ command: String, inputs: [String: [String]], outputs: [String: String]) throws -> String {
        var result = ""
        var rest = Substring(command)
        while let open = rest.range(of: "${{") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                result += rest[open.lowerBound...]
                return result
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let parts = inner.split(separator: ".", maxSplits: 1).map(String.init)
            switch (parts.first, parts.count) {
            case ("inputs", 2):
                guard let paths = inputs[parts[1]] else {
                    throw EngineError("the command names input '\(parts[1])', which has no file (its producer did not succeed)")
                }
                result += paths.map(ShellQuoting.quoted).joined(separator: " ")
            case ("outputs", 2):
                guard let path = outputs[parts[1]] else { throw EngineError("the command names undeclared output '\(parts[1])'") }
                result += ShellQuoting.quoted(path)
            default:
                result += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
        }
        return result + rest
    }
}

/// A log file that several threads append lines to, created at the first line.
final class FileLog: Sendable {
    private let path: String
    private let handle = Mutex<FileHandle?>(nil)

    init(path: String) {
        self.path = path
    }

    func write(_ text: String) {
        handle.withLock { handle in
            if handle == nil {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                handle = FileHandle(forWritingAtPath: path)
            }
            _ = try? handle?.seekToEnd()
            try? handle?.write(contentsOf: Data(text.utf8))
        }
    }

    deinit {
        handle.withLock { try? $0?.close() }
    }
}

/// A swift-log handler that appends to an attempt's log file.
struct FileLogHandler: LogHandler {
    let log: FileLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let time = ISO8601DateFormatter().string(from: Date())
        log.write("\(time) \(event.level) \(event.message)\n")
    }
}
