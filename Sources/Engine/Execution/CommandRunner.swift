import Foundation
import Logging
import PipelineLanguage
import Subprocess
import SystemPackage

/// Runs a `run:` command with `/bin/sh -c` in its own session, its standard output and error
/// written to files as they come. Cancellation or `timeout:` sends SIGTERM to the whole process
/// group, then SIGKILL after the grace period, so a command's children stop with it.
enum CommandRunner {
    static func run(
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
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in variables { merged[name] = value }
        let environment = Environment.custom(merged.keys.sorted().map { Array("\($0)=\(merged[$0]!)".utf8) })
        let options = {
            var options = PlatformOptions()
            options.createSession = true
            options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: grace)]
            return options
        }()

        let launch: @Sendable () async throws -> TerminationStatus = {
            try await Subprocess.run(
                .path("/bin/sh"),
                arguments: ["-c", script],
                environment: environment,
                workingDirectory: FilePath(workingDirectory),
                platformOptions: options,
                output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                error: .fileDescriptor(error, closeAfterSpawningProcess: true)
            ).terminationStatus
        }
        guard let timeoutSeconds else { return try await launch() }
        // A structured race: on a timeout the command's task is cancelled, Subprocess runs the
        // teardown, and this returns only once the process is gone.
        return try await withThrowingTaskGroup(of: TerminationStatus?.self) { group in
            group.addTask { try await launch() }
            group.addTask {
                try await Task.sleep(for: .seconds(timeoutSeconds))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let status = first else {
                _ = try? await group.next()
                throw TimeoutError(seconds: timeoutSeconds)
            }
            return status
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

/// A log file that several threads append lines to.
final class FileLog: Sendable {
    private let handle: FileHandle
    private let lock = NSLock()

    init(path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw EngineError("cannot write \(path)") }
        self.handle = handle
    }

    func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
    }

    deinit {
        try? handle.close()
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
