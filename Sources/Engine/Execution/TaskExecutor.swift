import BlacktailOps
import Foundation
import Frameworks
import HDF5
import Logging
import PipelineLanguage
import Synchronization

/// Runs one attempt of one task: resolves its inputs (checking every digest), decides its
/// condition, looks up the cache, runs the op or the command in the attempt's folder, and moves
/// the outputs into the artifact store. It never throws: every way an attempt can end is an
/// ``Outcome`` in the returned ``Completion``.
public struct TaskExecutor: Sendable {
    public var workspace: Workspace
    public var catalogue: [String: OpCatalogue.Entry]
    /// How long a cancelled command gets between SIGTERM and SIGKILL.
    public var terminationGrace: Duration = .seconds(5)
    /// Reads an op's HDF5 inputs in a child process before the op opens them, unless they are
    /// known to read whole; nil lets ops open them straight away.
    public var hdf5Verifier: HDF5Verifier?

    public init(workspace: Workspace, catalogue: OpCatalogue) {
        self.workspace = workspace
        self.catalogue = Dictionary(catalogue.entries.map { ($0.signature.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// What the attempt needs from its surroundings.
    public struct Environment: Sendable {
        public var worker: String
        /// The GPU indices this attempt may use (`CUDA_VISIBLE_DEVICES`).
        public var gpus: [String]
        /// The states and outputs of the nodes the task needs.
        public var upstream: [String: UpstreamTask]
        public var progress: @Sendable (ProgressUpdate) -> Void

        public init(worker: String, gpus: [String], upstream: [String: UpstreamTask], progress: @escaping @Sendable (ProgressUpdate) -> Void) {
            self.worker = worker
            self.gpus = gpus
            self.upstream = upstream
            self.progress = progress
        }
    }

    /// Decides the attempt's outcome; `cacheLookup` finds earlier outputs by cache key, and
    /// offers only those whose files are at hand.
    public func execute(
        _ task: ClaimedTask,
        environment: Environment,
        cacheLookup: @Sendable (String) async throws -> CacheEntry?
    ) async -> Completion {
        let startedAt = Date().timeIntervalSince1970
        var completion = Completion(
            taskID: task.snapshot.id, attempt: task.snapshot.attempt, worker: environment.worker,
            outcome: .failed(message: "not run"), startedAt: startedAt
        )
        let folder = workspace.attemptFolder(run: task.snapshot.runID, node: task.spec.nodeID, attempt: task.snapshot.attempt)
        do {
            try Folder.makeFresh(folder)
            let inputs = try resolveInputs(task, upstream: environment.upstream, folder: folder)
            completion.inputs = inputs.records

            if let reason = try conditionBlocks(task, inputs: inputs, upstream: environment.upstream) {
                completion.outcome = .skipped(reason: reason)
                return completion
            }
            let values = try deferredValues(task, upstream: environment.upstream)
            let cacheKey = Self.cacheKey(planKey: task.spec.planKey, inputs: inputs.records, values: values)
            completion.cacheKey = cacheKey
            if task.spec.cache, !task.noCache, let entry = try await cacheLookup(cacheKey) {
                completion.outputs = entry.outputs
                completion.outcome = .succeeded(cacheHit: true)
                try? Folder.write("cache hit: outputs of \(entry.nodeID) in run \(entry.runID)\n", to: "\(folder)/cache-hit")
                return completion
            }
            let outputPaths = try prepareOutputs(task.spec, folder: folder)
            switch task.spec.action {
            case .op(let name, _):
                try await runOp(name, task: task, inputs: inputs, values: values, outputPaths: outputPaths, folder: folder, environment: environment)
            case .shell(let command):
                try await runCommand(command, task: task, inputs: inputs, outputPaths: outputPaths, folder: folder, environment: environment)
            }
            completion.outputs = try collectOutputs(task.spec, paths: outputPaths)
            completion.outcome = .succeeded(cacheHit: false)
        } catch is CancellationError {
            completion.outcome = .cancelled
        } catch let error as TimeoutError {
            completion.outcome = .failed(message: error.description)
        } catch {
            completion.outcome = .failed(message: "\(error)")
        }
        return completion
    }

    /// The key a task's outputs are cached under: its plan key (what it does), the digest of
    /// every input (what it does it to), and the values of arguments computed at run time.
    public static func cacheKey(planKey: String, inputs: [ArtifactRecord], values: [String: Value] = [:]) -> String {
        var text = "blacktail.cache/1\n\(planKey)\n"
        for input in inputs.sorted(by: { ($0.name, $0.position) < ($1.name, $1.position) }) {
            text += "\(input.name)[\(input.position)]=\(input.digest)\n"
        }
        for name in values.keys.sorted() {
            text += "\(name):=\(values[name]!.json.canonicalText)\n"
        }
        return Digest.sha256(text)
    }

    // MARK: Inputs

    struct ResolvedInputs {
        var records: [ArtifactRecord] = []
        /// Paths by argument name (a list for list arguments).
        var paths: [String: [String]] = [:]
    }

    private func resolveInputs(_ task: ClaimedTask, upstream: [String: UpstreamTask], folder: String) throws -> ResolvedInputs {
        var resolved = ResolvedInputs()
        for named in task.spec.arguments {
            switch named.argument {
            case .artifact(let reference):
                if let record = try upstreamArtifact(reference, name: named.name, position: 0, upstream: upstream) {
                    resolved.records.append(record)
                    resolved.paths[named.name] = [try workspace.artifacts.verifiedPath(record.digest)]
                }
            case .artifacts(let references):
                var paths: [String] = []
                for (position, reference) in references.enumerated() {
                    if let record = try upstreamArtifact(reference, name: named.name, position: position, upstream: upstream) {
                        resolved.records.append(record)
                        paths.append(try workspace.artifacts.verifiedPath(record.digest))
                    }
                }
                resolved.paths[named.name] = paths
            case .projectFile(let relative):
                let path = try projectPath(relative, project: task.projectDirectory, argument: named.name)
                let (digest, size) = try workspace.artifacts.ingest(copying: path)
                resolved.records.append(ArtifactRecord(name: named.name, type: "file", digest: digest, size: size, source: relative))
                resolved.paths[named.name] = [path]
            case .recordedFile(let relative, let digest):
                guard workspace.artifacts.contains(digest) else {
                    throw EngineError("'\(named.name)': the recorded copy of \(relative) (sha256 \(digest.prefix(12))) is no longer in the artifact store")
                }
                let stored = try workspace.artifacts.verifiedPath(digest)
                let size = (try? FileManager.default.attributesOfItem(atPath: stored)[.size] as? Int64) ?? 0
                // Under its own file name, which an op may record (data/import-csv keeps it).
                let link = "\(folder)/recorded/\(named.name)/\((relative as NSString).lastPathComponent)"
                try Folder.make((link as NSString).deletingLastPathComponent)
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: stored)
                resolved.records.append(ArtifactRecord(name: named.name, type: "file", digest: digest, size: size, source: relative))
                resolved.paths[named.name] = [link]
            case .pinned(let digest, let type, let source):
                guard workspace.artifacts.contains(digest) else {
                    throw EngineError("input '\(named.name)': \(source) (sha256 \(digest.prefix(12))) is not in this home's artifact store")
                }
                let path = try workspace.artifacts.verifiedPath(digest)
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
                resolved.records.append(ArtifactRecord(name: named.name, type: type, digest: digest, size: size, source: source))
                resolved.paths[named.name] = [path]
            case .value, .deferred:
                continue
            }
        }
        return resolved
    }

    private func upstreamArtifact(_ reference: TaskSpec.ArtifactReference, name: String, position: Int, upstream: [String: UpstreamTask]) throws -> ArtifactRecord? {
        guard let task = upstream[reference.node] else {
            throw EngineError("input '\(name)': the store has no task \(reference.node)")
        }
        guard var record = task.outputs[reference.output] else {
            // A node that runs after an upstream failure (`if: always()`) finds no outputs there.
            if task.state != .succeeded { return nil }
            throw EngineError("input '\(name)': \(reference.node) succeeded without recording its output '\(reference.output)'")
        }
        record.name = name
        record.position = position
        record.source = "\(reference.node).\(reference.output)"
        return record
    }

    private func projectPath(_ relative: String, project: String, argument: String) throws -> String {
        let path = relative.hasPrefix("/") ? relative : "\(project)/\(relative)"
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw EngineError("'\(argument)': the project has no file \(relative) (looked in \(project))")
        }
        return path
    }

    // MARK: Conditions and deferred values

    private func evaluator(_ task: ClaimedTask, upstream: [String: UpstreamTask]) -> RuntimeEvaluator {
        // The claim brought the state of every node the task needs.
        let states = upstream.values.map(\.state)
        let store = workspace.artifacts
        return RuntimeEvaluator(
            upstreamSucceeded: states.allSatisfy { $0 == .succeeded },
            upstreamFailed: states.contains { $0 == .failed || $0 == .cancelled }
        ) { node, output, field in
            guard let record = upstream[node]?.outputs[output] else {
                throw EngineError("the metrics '\(output)' of \(node) are not there (\(node) is \(upstream[node]?.state.rawValue ?? "unknown"))")
            }
            return try Metrics.read(try store.verifiedPath(record.digest))[field].map(Value.float)
        }
    }

    /// The reason not to run, when the condition is false.
    private func conditionBlocks(_ task: ClaimedTask, inputs: ResolvedInputs, upstream: [String: UpstreamTask]) throws -> String? {
        guard let text = task.spec.condition else { return nil }
        let expression = try ExpressionParser.parse(text)
        let value = try evaluator(task, upstream: upstream).evaluate(expression)
        guard case .bool(let holds) = value else {
            throw EngineError("the condition \(text) gave \(value.literal), not a bool")
        }
        if holds { return nil }
        return text == "false" ? "its condition was false when the plan was made" : "condition is false: \(text)"
    }

    /// The arguments computed at run time, each checked against the op's signature as the
    /// compiler checks plan-time values.
    private func deferredValues(_ task: ClaimedTask, upstream: [String: UpstreamTask]) throws -> [String: Value] {
        var values: [String: Value] = [:]
        for named in task.spec.arguments {
            guard case .deferred(let text) = named.argument else { continue }
            let value = try evaluator(task, upstream: upstream).evaluate(try ExpressionParser.parse(text))
            if case .op(let name, _) = task.spec.action, let argument = catalogue[name]?.signature.argument(named.name) {
                try Self.check(value, against: argument, expression: text)
            }
            values[named.name] = value
        }
        return values
    }

    static func check(_ value: Value, against argument: OpSignature.Argument, expression: String) throws {
        func fail(_ reason: String) -> EngineError {
            EngineError("argument '\(argument.name)' = \(expression) gave \(value.literal) at run time, \(reason)")
        }
        switch (argument.type, value) {
        case (.float, .int), (.float, .float), (.int, .int), (.string, .string), (.bool, .bool), (.any, _), (.list, .list):
            break
        default:
            throw fail("but it takes \(argument.type.withArticle)")
        }
        if let number = value.number {
            if let minimum = argument.minimum, number < minimum { throw fail("below its minimum \(Value.float(minimum).literal)") }
            if let maximum = argument.maximum, number > maximum { throw fail("above its maximum \(Value.float(maximum).literal)") }
        }
        if let choices = argument.choices, !choices.contains(value) {
            throw fail("not one of " + choices.map(\.literal).joined(separator: ", "))
        }
    }

    private func opArguments(_ task: ClaimedTask, inputs: ResolvedInputs, values: [String: Value]) throws -> [String: OpContext.Argument] {
        var arguments: [String: OpContext.Argument] = [:]
        for named in task.spec.arguments {
            switch named.argument {
            case .value(let value):
                arguments[named.name] = .value(value)
            case .deferred:
                if let value = values[named.name] { arguments[named.name] = .value(value) }
            case .projectFile, .recordedFile:
                if let path = inputs.paths[named.name]?.first { arguments[named.name] = .value(.string(path)) }
            case .artifact, .pinned:
                if let path = inputs.paths[named.name]?.first { arguments[named.name] = .path(path) }
            case .artifacts:
                arguments[named.name] = .paths(inputs.paths[named.name] ?? [])
            }
        }
        return arguments
    }

    // MARK: Outputs

    private func prepareOutputs(_ spec: TaskSpec, folder: String) throws -> [String: String] {
        let manager = FileManager.default
        if spec.outputs.contains(where: { $0.path == nil }) { try Folder.make("\(folder)/outputs") }
        if case .shell = spec.action { try Folder.make("\(folder)/work") }
        var paths: [String: String] = [:]
        for output in spec.outputs {
            if let path = output.path {
                let full = "\(folder)/work/\(path)"
                try manager.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                paths[output.name] = full
            } else {
                paths[output.name] = "\(folder)/outputs/\(output.name)\(Self.fileExtension(output.type))"
            }
        }
        return paths
    }

    static func fileExtension(_ type: String) -> String {
        switch type {
        case "dataset", "model": ".h5"
        case "metrics": ".json"
        default: ""
        }
    }

    private func collectOutputs(_ spec: TaskSpec, paths: [String: String]) throws -> [ArtifactRecord] {
        var records: [ArtifactRecord] = []
        // What an op wrote went through Blacktail's own HDF5 writer: it reads whole.
        let writtenHere = if case .op = spec.action { true } else { false }
        for output in spec.outputs {
            guard let path = paths[output.name], FileManager.default.fileExists(atPath: path) else {
                throw EngineError("the step did not write its output '\(output.name)' (expected at \(paths[output.name] ?? "?"))")
            }
            if output.type == "metrics" {
                do {
                    _ = try Metrics.read(path)
                } catch {
                    throw EngineError("output '\(output.name)' is not a metrics file: \(error)")
                }
            }
            let written = writtenHere && HDF5File.hasSignature(atPath: path)
            let (digest, size) = try workspace.artifacts.ingest(moving: path)
            if written { workspace.artifacts.markReadsWhole(digest) }
            records.append(ArtifactRecord(name: output.name, type: output.type, digest: digest, size: size))
        }
        return records
    }

    // MARK: Ops

    private func runOp(
        _ name: String, task: ClaimedTask, inputs: ResolvedInputs, values: [String: Value], outputPaths: [String: String],
        folder: String, environment: Environment
    ) async throws {
        guard let op = catalogue[name]?.implementation else {
            throw EngineError("the op \(name) is declared but this build cannot run it yet")
        }
        let log = FileLog(path: "\(folder)/op.log")
        var logger = Logger(label: "blacktail.op") { _ in FileLogHandler(log: log) }
        logger[metadataKey: "node"] = "\(task.spec.nodeID)"
        let progressLog = FileLog(path: "\(folder)/progress.jsonl")
        let context = OpContext(
            runID: task.snapshot.runID,
            nodeID: task.spec.nodeID,
            opName: name,
            arguments: try opArguments(task, inputs: inputs, values: values),
            outputPaths: outputPaths,
            scratchDirectory: "\(folder)/scratch",
            logger: logger,
            progress: ProgressReporter { update in
                progressLog.write(Self.progressJSON(update) + "\n")
                environment.progress(update)
            },
            seed: task.spec.seed,
            threadBudget: Int(task.spec.resources.cpu.rounded(.up)),
            deterministic: task.deterministic
        )
        defer { Folder.remove(context.scratchDirectory) }
        try writeRecord(task, folder: folder, arguments: context.arguments, outputs: outputPaths)
        try await verifyHDF5Inputs(inputs)
        let thread = OpThreadPool.shared.lease()
        defer { thread.release() }
        try await withTimeout(task.spec.timeoutSeconds) {
            try await withTaskExecutorPreference(thread) { try await op.run(context) }
        }
    }

    /// Reads each HDF5 input not known to read whole in a child process first, so that a damaged
    /// file fails this attempt instead of crashing the worker in the op.
    private func verifyHDF5Inputs(_ inputs: ResolvedInputs) async throws {
        guard let verifier = hdf5Verifier else { return }
        for record in inputs.records {
            do {
                try await verifier.verify(stored: record.digest, in: workspace.artifacts)
            } catch {
                throw EngineError("input '\(record.name)'\(record.source.map { " (\($0))" } ?? ""): \(error)")
            }
        }
    }

    private func writeRecord(_ task: ClaimedTask, folder: String, arguments: [String: OpContext.Argument], outputs: [String: String]) throws {
        var lines = ["op: \(task.spec.displayAction)", "node: \(task.spec.nodeID)", "seed: \(task.spec.seed)", "arguments:"]
        for name in arguments.keys.sorted() {
            let text: String = switch arguments[name]! {
            case .value(let value): value.literal
            case .path(let path): path
            case .paths(let paths): paths.joined(separator: " ")
            }
            lines.append("  \(name): \(text)")
        }
        lines.append("outputs:")
        for name in outputs.keys.sorted() { lines.append("  \(name): \(outputs[name]!)") }
        try Folder.write(lines.joined(separator: "\n") + "\n", to: "\(folder)/op.txt")
    }

    static func progressJSON(_ update: ProgressUpdate) -> String {
        var object: [String: JSONValue] = ["metrics": .object(update.metrics.mapValues { $0.isFinite ? .double($0) : .null })]
        if let fraction = update.fraction { object["fraction"] = .double(fraction) }
        if let epoch = update.epoch { object["epoch"] = .int(epoch) }
        if let total = update.totalEpochs { object["total_epochs"] = .int(total) }
        if let message = update.message { object["message"] = .string(message) }
        return JSONValue.object(object).canonicalText
    }

    // MARK: Commands

    private func runCommand(
        _ command: String, task: ClaimedTask, inputs: ResolvedInputs, outputPaths: [String: String], folder: String, environment: Environment
    ) async throws {
        let resolved = try CommandTemplate.substitute(command, inputs: inputs.paths, outputs: outputPaths)
        try Folder.write(
            "#!/bin/sh\n# \(task.spec.nodeID) of run \(task.snapshot.runID), attempt \(task.snapshot.attempt)\ncd \(ShellQuoting.quoted("\(folder)/work"))\n" + resolved + "\n",
            to: "\(folder)/command.sh"
        )
        var variables: [String: String] = [
            "BLACKTAIL_RUN": task.snapshot.runID,
            "BLACKTAIL_NODE": task.spec.nodeID,
            "BLACKTAIL_ATTEMPT": String(task.snapshot.attempt),
            "BLACKTAIL_SEED": String(task.spec.seed),
            "BLACKTAIL_PROJECT": task.projectDirectory,
            "BLACKTAIL_THREADS": String(Int(task.spec.resources.cpu.rounded(.up))),
            "CUDA_VISIBLE_DEVICES": environment.gpus.joined(separator: ","),
        ]
        for pair in task.spec.env where pair.count == 2 { variables[pair[0]] = pair[1] }
        let status = try await CommandRunner.run(
            script: resolved,
            workingDirectory: "\(folder)/work",
            environment: variables,
            stdout: "\(folder)/stdout.log",
            stderr: "\(folder)/stderr.log",
            timeoutSeconds: task.spec.timeoutSeconds,
            grace: terminationGrace
        )
        let statusText = switch status {
        case .exited(let code): "\(code)"
        case .signaled(let signal): "signal \(signal)"
        }
        try Folder.write("\(statusText)\n", to: "\(folder)/exit_status")
        guard status == .exited(0) else {
            let tail = Self.lastLines(of: "\(folder)/stderr.log", count: 5)
            throw EngineError("the command \(CommandRunner.describe(status))\(tail.isEmpty ? "" : "; its last lines on stderr:\n" + tail)\n(see \(folder))")
        }
    }

    static func lastLines(of path: String, count: Int) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        let text = String(decoding: data.suffix(8192), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(count).map { "  " + $0 }.joined(separator: "\n")
    }
}

/// Folders of attempts, made with as few system calls as the common case needs: a task's
/// bookkeeping should cost less than the work of a small task.
enum Folder {
    /// Makes a folder, and its parents when they are missing.
    static func make(_ path: String) throws {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT else { throw failure("cannot make the folder \(path)") }
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != path else { throw failure("cannot make the folder \(path)") }
        try make(parent)
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw failure("cannot make the folder \(path)") }
    }

    /// Makes an empty folder, removing whatever was there (a try cut short on this machine).
    static func makeFresh(_ path: String) throws {
        if mkdir(path, 0o755) == 0 { return }
        switch errno {
        case EEXIST: try FileManager.default.removeItem(atPath: path)
        case ENOENT: try make((path as NSString).deletingLastPathComponent)
        default: throw failure("cannot make the folder \(path)")
        }
        if mkdir(path, 0o755) != 0 { throw failure("cannot make the folder \(path)") }
    }

    static func remove(_ path: String) {
        if rmdir(path) == 0 || errno == ENOENT { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes a small file in one call.
    static func write(_ text: String, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("cannot write \(path)") }
        defer { close(descriptor) }
        var text = text
        let written = text.withUTF8 { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.utf8.count else { throw failure("cannot write \(path)") }
    }

    private static func failure(_ what: String) -> EngineError {
        EngineError("\(what): \(String(cString: strerror(errno)))")
    }
}

/// A lapse of `timeout:`.
struct TimeoutError: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "timed out after \(Duration.seconds(seconds).short)" }
}

/// Runs `body` until it returns or `seconds` pass. On a timeout the body's task is cancelled and
/// left to notice; the caller goes on at once, so a computation that never checks for
/// cancellation cannot hold a worker past its `timeout:`.
func withTimeout(_ seconds: Double?, _ body: @escaping @Sendable () async throws -> Void) async throws {
    guard let seconds else { return try await body() }
    let work = Task { try await body() }
    let finish = OneShot()
    try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            finish.set(continuation)
            let timer = Task {
                try await Task.sleep(for: .seconds(seconds))
                if let waiting = finish.take() {
                    work.cancel()
                    waiting.resume(throwing: TimeoutError(seconds: seconds))
                }
            }
            Task {
                let result = await work.result
                timer.cancel()
                finish.take()?.resume(with: result)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// A continuation that the first of several racers resumes.
private final class OneShot: Sendable {
    private let continuation = Mutex<CheckedContinuation<Void, any Error>?>(nil)

    func set(_ value: CheckedContinuation<Void, any Error>) {
        continuation.withLock { $0 = value }
    }

    func take() -> CheckedContinuation<Void, any Error>? {
        continuation.withLock { $0.take() }
    }
}

