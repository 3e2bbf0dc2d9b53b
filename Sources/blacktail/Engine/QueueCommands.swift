import ArgumentParser
import BlacktailOps
import Cluster
import Engine
import Foundation
import PipelineLanguage

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Add a pipeline run to the queue for workers to take, and print its id."
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var parameters: ParameterOptions
    @OptionGroup var submit: SubmitOptions
    @OptionGroup var home: HomeOptions
    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        if let client = try remote.client() {
            let registry = CompilerFrontend.defaultRegistry(home: home.home)
            let plan = try await CompilerFrontend.plan(file, parameters: parameters, registry: registry)
            let submission = CompilerFrontend.submission(file, plan: plan, options: submit.options)
            print(try await RemoteSubmission.submit(submission, client: client, workspace: home.workspace).runID)
            return
        }
        let (_, store) = try home.open()
        let plan = try await CompilerFrontend.plan(file, parameters: parameters, registry: store)
        let (runID, _) = try await store.submit(CompilerFrontend.submission(file, plan: plan, options: submit.options), now: now())
        print(runID)
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Take tasks from the queue and run them, until stopped (SIGTERM or Ctrl-C lets running tasks finish).",
        discussion: """
            A task runs only where its resources: fit what the worker offers; a GPU task gets exactly \
            its GPUs in CUDA_VISIBLE_DEVICES. Several workers can share one workspace.
            """
    )

    @OptionGroup var worker: WorkerOptions
    @OptionGroup var home: HomeOptions

    @Flag(help: "Exit once no run has work left.")
    var exitWhenIdle = false

    func run() async throws {
        let (workspace, store) = try home.open()
        let configuration = try worker.configuration()
        var executor = TaskExecutor(workspace: workspace, catalogue: EngineOps.catalogue(store: store, workspace: workspace))
        executor.hdf5Verifier = .thisProgram()
        let local = Worker(
            store: store,
            executor: executor,
            configuration: configuration
        ) { line in
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
        FileHandle.standardError.write(Data("worker \(local.id): \(describe(configuration)), \(configuration.concurrency) at once, store \(workspace.storePath)\n".utf8))
        let interrupt = InterruptHandler {
            FileHandle.standardError.write(Data("worker \(local.id): stopping; the tasks it runs finish first\n".utf8))
            local.stop()
        }
        defer { interrupt.cancel() }
        let exitWhenIdle = exitWhenIdle
        try await local.run {
            guard exitWhenIdle else { return false }
            return try await store.runs(limit: 1_000).allSatisfy(\.state.isFinished)
        }
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List the latest runs.")

    @Option(help: "How many runs to list.")
    var limit = 20

    @OptionGroup var home: HomeOptions
    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        let runs: [RunRecord]
        if let client = try remote.client() {
            do {
                runs = try await client.call(.GET, "/v1/runs?limit=\(limit)", as: [RunRecord].self)
            } catch let problem as Wire.Problem {
                throw CLIError(problem.error)
            }
        } else {
            runs = try await home.open().1.runs(limit: limit)
        }
        if runs.isEmpty { print("no runs in \(home.workspace.root)") }
        for run in runs {
            let duration = run.startedAt.map { (run.finishedAt ?? now()) - $0 }.map { Duration.seconds($0).short } ?? ""
            let counts = "\(run.counts.succeeded)/\(run.counts.total) succeeded" + (run.counts.failed > 0 ? ", \(run.counts.failed) failed" : "")
            print("\(run.id)  \(run.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(run.pipeline)  \(counts)  \(duration)")
        }
    }
}

/// The run a command is about, by id or unique prefix, in a workspace.
struct RunSelection: ParsableArguments {
    @Argument(help: "The run id, or a unique prefix of it.")
    var run: String

    @OptionGroup var home: HomeOptions

    /// The workspace, its store, and the run, or a clear error.
    func open() async throws -> (Workspace, SQLiteStore, RunRecord) {
        let (workspace, store) = try home.open()
        guard let record = try await store.run(run) else { throw CLIError("no run '\(run)'; 'blacktail runs' lists them") }
        return (workspace, store, record)
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a run: what ran, on what and with what, how each step ended, and its outputs."
    )

    @OptionGroup var selection: RunSelection

    @Option(help: "text for people, json for machines.")
    var format: OutputFormat = .text

    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        if let client = try remote.client() {
            let detail = try await RemoteSubmission.detail(selection.run, client: client)
            switch format {
            case .text: print(RunSummary.text(detail.run, tasks: detail.tasks, workspace: nil))
            case .json: print(RunSummary.json(detail.run, tasks: detail.tasks, attempts: [:]).prettyText, terminator: "")
            }
            return
        }
        let (workspace, store, record) = try await selection.open()
        let tasks = try await store.tasks(runID: record.id)
        switch format {
        case .text:
            print(RunSummary.text(record, tasks: tasks, workspace: workspace))
        case .json:
            var attempts: [Int64: [AttemptRecord]] = [:]
            for task in tasks { attempts[task.snapshot.id] = try await store.attempts(taskID: task.snapshot.id) }
            print(RunSummary.json(record, tasks: tasks, attempts: attempts).prettyText, terminator: "")
        }
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the logs of a run's steps (stdout, stderr, the op log), optionally following them."
    )

    @OptionGroup var selection: RunSelection

    @Argument(help: "One step or node; all of them when left out.")
    var step: String?

    @Flag(help: "Keep printing as the logs grow, until the run ends.")
    var follow = false

    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        if let client = try remote.client() { return try await remoteLogs(client) }
        let (workspace, store, record) = try await selection.open()
        var offsets: [String: UInt64] = [:]
        while true {
            let finished = try await store.runState(record.id)?.isFinished ?? true
            let tasks = try await store.tasks(runID: record.id).filter { task in
                step == nil || task.spec.nodeID == step || task.spec.step == step
            }
            if tasks.isEmpty { throw CLIError("run \(record.id) has no step '\(step ?? "")'") }
            for task in tasks where task.snapshot.attempt > 0 {
                let folder = workspace.attemptFolder(run: record.id, node: task.spec.nodeID, attempt: task.snapshot.attempt)
                for name in ["stdout.log", "stderr.log", "op.log"] {
                    let path = "\(folder)/\(name)"
                    guard let handle = FileHandle(forReadingAtPath: path) else { continue }
                    defer { try? handle.close() }
                    try handle.seek(toOffset: offsets[path] ?? 0)
                    let data = try handle.readToEnd() ?? Data()
                    guard !data.isEmpty else { continue }
                    offsets[path, default: 0] += UInt64(data.count)
                    Self.printLines(data, node: task.spec.nodeID, file: name)
                }
            }
            fflush(nil)
            if !follow || finished { break }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    /// The same, from a coordinator: the logs its agents sent (every 2 s while a task runs).
    private func remoteLogs(_ client: CoordinatorClient) async throws {
        var offsets: [String: Int] = [:]
        while true {
            let detail = try await RemoteSubmission.detail(selection.run, client: client)
            let tasks = detail.tasks.filter { step == nil || $0.spec.nodeID == step || $0.spec.step == step }
            if tasks.isEmpty { throw CLIError("run \(detail.run.id) has no step '\(step ?? "")'") }
            for task in tasks where task.snapshot.attempt > 0 {
                for name in ["stdout.log", "stderr.log", "op.log"] {
                    let path = "/v1/runs/\(detail.run.id)/logs/\(CoordinatorClient.segment(task.spec.nodeID))/\(name)?attempt=\(task.snapshot.attempt)"
                    let key = "\(task.spec.nodeID)/\(task.snapshot.attempt)/\(name)"
                    guard let text = try await client.text(path) else { continue }
                    let data = Data(text.utf8)
                    guard data.count > offsets[key, default: 0] else { continue }
                    Self.printLines(data.dropFirst(offsets[key, default: 0]), node: task.spec.nodeID, file: name)
                    offsets[key] = data.count
                }
            }
            fflush(nil)
            if !follow || detail.run.state.isFinished { break }
            try await Task.sleep(for: .seconds(1))
        }
    }

    private static func printLines(_ data: Data, node: String, file: String) {
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast(data.last == UInt8(ascii: "\n") ? 1 : 0) {
            print("\(node) [\(file.split(separator: ".")[0])] \(line)")
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run: steps not yet started never start, and running ones are stopped."
    )

    @OptionGroup var selection: RunSelection
    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        if let client = try remote.client() {
            let run = try await client.call(.POST, "/v1/runs/\(CoordinatorClient.segment(selection.run))/cancel", as: RunRecord.self)
            print("run \(run.id): cancelled; running steps are being stopped")
            return
        }
        let (_, store, record) = try await selection.open()
        if record.state.isFinished { throw CLIError("run \(record.id) is already \(record.state.rawValue)") }
        try await store.cancel(runID: record.id, now: now())
        print("run \(record.id): cancelled; running steps are being stopped")
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run a finished run's failed, skipped and cancelled steps again, reusing what succeeded."
    )

    @OptionGroup var selection: RunSelection
    @OptionGroup var remote: CoordinatorOptions

    func run() async throws {
        if let client = try remote.client() {
            let run = try await client.call(.POST, "/v1/runs/\(CoordinatorClient.segment(selection.run))/retry", as: RunRecord.self)
            print("run \(run.id): queued again; the coordinator's agents take it")
            return
        }
        let (_, store, record) = try await selection.open()
        do {
            try await store.retry(runID: record.id, now: now())
        } catch let error as EngineError {
            throw CLIError(error.message)
        }
        print("run \(record.id): queued again; a worker ('blacktail worker') takes it")
    }
}

struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove stored files that no run references, and leftovers of interrupted writes."
    )

    @Flag(help: "Say what would be removed, and remove nothing.")
    var dryRun = false

    @OptionGroup var home: HomeOptions

    func run() async throws {
        let (workspace, store) = try home.open()
        // A running task may have moved an output into the store and not yet recorded it.
        if let active = try await store.runs(limit: 10_000).first(where: { !$0.state.isFinished }) {
            throw CLIError("run \(active.id) is \(active.state.rawValue); run gc when no run is queued or running")
        }
        let referenced = try await store.referencedDigests()
        let artifacts = workspace.artifacts
        var removed = 0
        var bytes: Int64 = 0
        for digest in try artifacts.allDigests() where !referenced.contains(digest) {
            removed += 1
            if dryRun {
                bytes += (try? FileManager.default.attributesOfItem(atPath: artifacts.path(of: digest))[.size] as? Int64) ?? 0
            } else {
                bytes += try artifacts.remove(digest)
            }
        }
        // Files in staging belong to writes that never finished (a worker was killed).
        var staged = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: artifacts.staging)) ?? [] {
            staged += 1
            if !dryRun { try? FileManager.default.removeItem(atPath: "\(artifacts.staging)/\(name)") }
        }
        let verb = dryRun ? "would remove" : "removed"
        print("\(verb) \(removed) unreferenced artifact\(removed == 1 ? "" : "s") (\(ByteCount.text(bytes))) and \(staged) unfinished write\(staged == 1 ? "" : "s"); \(referenced.count) referenced kept")
    }
}
