import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline here: submit it and work on it until it ends, showing every step live.",
        discussion: """
            On a terminal the view redraws in place; otherwise it prints one line per event. \
            The exit status is 0 when the run succeeded and 1 otherwise. Ctrl-C cancels the run.
            """
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var parameters: ParameterOptions
    @OptionGroup var submit: SubmitOptions
    @OptionGroup var worker: WorkerOptions
    @OptionGroup var home: HomeOptions

    @Flag(help: "One line per event, even on a terminal.")
    var plain = false

    func run() async throws {
        let (workspace, store) = try home.open()
        let plan = try await CompilerFrontend.plan(file, parameters: parameters, registry: store)
        let submission = CompilerFrontend.submission(file, plan: plan, options: submit.options)
        let runID = try await LocalRun.execute(
            submission, store: store, workspace: workspace, configuration: try worker.configuration(), live: !plain && isatty(STDOUT_FILENO) == 1
        ) { created, runID in
            created ? "run \(runID): \(plan.pipelineName), \(plan.nodes.count) step\(plan.nodes.count == 1 ? "" : "s")" : "run \(runID) was submitted before with this idempotency key"
        }
        guard try await store.runState(runID) == .succeeded else { throw ExitCode.failure }
    }
}

/// Submitting a run and working on it here until it ends, with the live view.
enum LocalRun {
    /// Returns the run's id once it has ended; `announce` gives the first line shown.
    static func execute(
        _ submission: Submission,
        store: SQLiteStore,
        workspace: Workspace,
        configuration: Worker.Configuration,
        live: Bool,
        announce: (_ created: Bool, _ runID: String) -> String
    ) async throws -> String {
        var configuration = configuration
        var executor = TaskExecutor(workspace: workspace, catalogue: EngineOps.catalogue(store: store, workspace: workspace))
        executor.hdf5Verifier = .thisProgram()
        let view = RunView(store: store, workspace: workspace, live: live)
        let offered = Capacity(
            cpu: configuration.cpu, memoryBytes: configuration.memoryBytes, gpus: configuration.gpus.count, labels: Set(configuration.labels)
        )
        for task in submission.tasks where !offered.fits(task.resources) {
            throw CLIError(
                "step \(task.nodeID) asks for \(describe(task.resources)), more than this machine's worker offers "
                    + "(\(describe(configuration))); lower its resources: or run it with 'blacktail submit' on a bigger worker"
            )
        }
        let (runID, created) = try await store.submit(submission, now: now())
        view.note(announce(created, runID))
        configuration.onlyRun = runID
        let local = Worker(store: store, executor: executor, configuration: configuration) { line in view.note(line) }

        let interrupt = InterruptHandler { Task { try? await store.cancel(runID: runID, now: now()) } }
        defer { interrupt.cancel() }
        // The view polls the store while the worker works; the worker's end is the run's end.
        let watching = Task { await view.follow(runID: runID) }
        defer { watching.cancel() }
        try await local.run { try await store.runState(runID)?.isFinished ?? true }
        watching.cancel()
        await watching.value
        try await view.finish(runID: runID)
        return runID
    }
}

func describe(_ resources: ResourceSpec) -> String {
    var parts = ["cpu \(Value.float(resources.cpu).interpolated)"]
    if resources.memoryBytes > 0 { parts.append("memory \(ByteCount.text(resources.memoryBytes))") }
    if resources.gpus > 0 { parts.append("\(resources.gpus) GPU\(resources.gpus == 1 ? "" : "s")") }
    if !resources.labels.isEmpty { parts.append("labels \(resources.labels.joined(separator: ","))") }
    return parts.joined(separator: ", ")
}

func describe(_ configuration: Worker.Configuration) -> String {
    describe(ResourceSpec(cpu: configuration.cpu, memoryBytes: configuration.memoryBytes ?? 0, gpus: configuration.gpus.count, labels: configuration.labels))
}

enum ByteCount {
    static func text(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }
}

/// Calls a handler on SIGINT and SIGTERM instead of ending the process at once.
final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
