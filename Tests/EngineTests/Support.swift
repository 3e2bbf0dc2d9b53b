import BlacktailOps
import Engine
import Foundation
import PipelineLanguage
import Testing

/// Polls until `condition` holds or `seconds` pass; whether it held.
func poll(seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// A file a test's command waits for, so that the test acts while the command is surely running:
/// a test process kept busy by the rest of the suite may look at the command's progress seconds
/// late, too late for a window the command would otherwise close by itself.
struct Gate {
    let path: String

    init(folder: String, name: String = "gate") {
        path = "\(folder)/\(name)"
    }

    /// Shell that waits until the gate is open.
    var shellWait: String {
        "until [ -e \(path) ]; do sleep 0.05; done"
    }

    func open() {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
    }
}

/// A workspace in a fresh temporary folder, with a store, and helpers to submit pipelines written
/// inline and run them with an in-process worker.
struct TestBench {
    let folder: String
    let workspace: Workspace
    let store: SQLiteStore
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    init() throws {
        folder = NSTemporaryDirectory() + "blacktail-engine-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        workspace = Workspace(home: "\(folder)/home")
        try workspace.create()
        store = try SQLiteStore(path: workspace.storePath)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Compiles pipeline text (the project folder is the repository, so datasets/ resolve).
    func plan(_ yaml: String, parameters: [(name: String, value: String)] = [], market: [String: MarketModels.Resolution] = [:]) throws -> Plan {
        let path = "\(folder)/pipeline-\(UUID().uuidString.prefix(8)).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        var compiler = PipelineCompiler(signatures: BuiltinOps.catalogue.signatures)
        compiler.marketModels = market
        let compilation = compiler.compile(path: path, parameters: parameters)
        guard let plan = compilation.plan, !compilation.hasErrors else {
            Issue.record("the pipeline does not compile:\n\(DiagnosticRenderer.text(compilation.diagnostics, in: compilation.source))")
            throw EngineError("compile")
        }
        return plan
    }

    func submission(
        _ yaml: String, options: Submitter.Options = Submitter.Options(), parameters: [(name: String, value: String)] = [],
        market: [String: MarketModels.Resolution] = [:]
    ) throws -> Submission {
        Submitter.submission(
            plan: try plan(yaml, parameters: parameters, market: market), pipelinePath: "test.yaml", projectDirectory: Self.projectRoot,
            signatures: BuiltinOps.catalogue.signatures, options: options
        )
    }

    func submit(_ yaml: String, options: Submitter.Options = Submitter.Options()) async throws -> String {
        try await store.submit(try submission(yaml, options: options), now: Date().timeIntervalSince1970).runID
    }

    func worker(concurrency: Int = 2, cpu: Double = 2, gpus: [String] = [], lease: Double = 30) -> Worker {
        var configuration = Worker.Configuration(concurrency: concurrency, cpu: cpu, gpus: gpus)
        configuration.leaseSeconds = lease
        configuration.pollSeconds = 0.05
        return Worker(store: store, executor: TaskExecutor(workspace: workspace, catalogue: EngineOps.catalogue(store: store, workspace: workspace)), configuration: configuration)
    }

    /// Runs a finished run again as `blacktail reproduce` does and compares the two.
    func reproduce(_ runID: String, worker: Worker? = nil) async throws -> Reproduction.Report {
        let sideEffects = Set(BuiltinOps.catalogue.entries.filter(\.signature.hasSideEffects).map(\.signature.name))
        let (submission, left) = try await Reproduction.submission(of: runID, store: store, sideEffectOps: sideEffects)
        let newRun = try await store.submit(submission, now: Date().timeIntervalSince1970).runID
        try await runToEnd(newRun, worker: worker)
        return try await Reproduction.compare(original: runID, reproduced: newRun, left: left, store: store, artifacts: workspace.artifacts)
    }

    /// Works on the store until the run ends; returns its tasks by node.
    @discardableResult
    func runToEnd(_ runID: String, worker: Worker? = nil) async throws -> [String: TaskRecord] {
        let worker = worker ?? self.worker()
        let store = store
        try await worker.run { try await store.runState(runID)?.isFinished ?? true }
        return try await tasks(runID)
    }

    func tasks(_ runID: String) async throws -> [String: TaskRecord] {
        Dictionary(uniqueKeysWithValues: try await store.tasks(runID: runID).map { ($0.spec.nodeID, $0) })
    }

    func state(_ runID: String) async throws -> RunState? {
        try await store.runState(runID)
    }

    func read(_ record: ArtifactRecord) throws -> String {
        try String(contentsOfFile: try workspace.artifacts.verifiedPath(record.digest), encoding: .utf8)
    }
}
