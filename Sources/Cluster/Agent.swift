import BlacktailOps
import Engine
import Foundation
import PipelineLanguage
import Synchronization

/// The queue as an agent sees it: the coordinator's agent calls. A ``Worker`` takes tasks from it
/// exactly as it does from a store on one machine; the coordinator claims and completes under
/// the node's name, whatever the worker id says.
public final class RemoteQueue: TaskQueue {
    let client: CoordinatorClient
    /// How long a claim waits at the coordinator for a task to become ready.
    let longPollSeconds: Double
    /// How long a call an attempt depends on (its cache lookup, its files, its report) is retried
    /// while the coordinator, or its store, cannot answer: a restart of either is waited for,
    /// instead of failing the task or losing its result.
    static let patience = 120.0
    private let state = Mutex(State())

    private struct State {
        /// The run of each task held, for the calls that name it.
        var runs: [Int64: String] = [:]
        var claims: [Int: Task<[ClaimedTask], any Error>] = [:]
        var nextClaim = 0
        var interrupted = false
    }

    /// Small logs that travel with their attempt's report.
    let outbox: LogOutbox

    public init(client: CoordinatorClient, longPollSeconds: Double = 20, outbox: LogOutbox = LogOutbox()) {
        self.client = client
        self.longPollSeconds = longPollSeconds
        self.outbox = outbox
    }

    /// Ends the claims waiting at the coordinator, and makes later ones return nothing: for an
    /// agent that is stopping.
    public func interruptClaims() {
        let waiting = state.withLock { state in
            state.interrupted = true
            return Array(state.claims.values)
        }
        for claim in waiting { claim.cancel() }
    }

    public func registerWorker(_ worker: WorkerRecord, now: Double) async throws {
        let registration = Wire.Registration(
            host: worker.host, pid: worker.pid, cpu: worker.cpu, memoryBytes: worker.memoryBytes, gpus: worker.gpus, labels: worker.labels
        )
        _ = try await client.call(.POST, "/v1/agent/register", body: registration, as: Wire.Identity.self)
    }

    /// Waits at the coordinator only while the worker holds no task: a claim made while tasks
    /// run asks for what is free then, and a slot freed during a long wait would stay unused.
    /// A busy worker asks again when a task ends, or after its poll interval.
    public func claim(_ request: ClaimRequest, now: Double) async throws -> [ClaimedTask] {
        let client = client
        let started: (Int, Task<[ClaimedTask], any Error>)? = state.withLock { state in
            guard !state.interrupted else { return nil }
            let wait = state.runs.isEmpty ? longPollSeconds : 0
            let body = Wire.Claim(free: request.free, limit: request.limit, leaseSeconds: request.leaseSeconds, waitSeconds: wait)
            state.nextClaim += 1
            let task = Task {
                try await client.call(.POST, "/v1/agent/claim", body: body, timeout: .seconds(Int64(wait) + 30), as: Wire.Claimed.self).tasks
            }
            state.claims[state.nextClaim] = task
            return (state.nextClaim, task)
        }
        guard let (id, task) = started else { return [] }
        defer { state.withLock { _ = $0.claims.removeValue(forKey: id) } }
        do {
            return remember(try await task.value)
        } catch where task.isCancelled {
            // Tasks the coordinator leased as the claim was cancelled return when their lease lapses.
            return []
        }
    }

    public func heartbeat(taskID: Int64, attempt: Int, worker: String, leaseSeconds: Double, now: Double) async throws -> HeartbeatReply {
        let result = try await client.call(
            .POST, "/v1/agent/heartbeat", body: Wire.Heartbeat(taskID: taskID, attempt: attempt, leaseSeconds: leaseSeconds),
            as: Wire.HeartbeatResult.self
        )
        return result.held ? .extended(cancelRequested: result.cancelRequested) : .lost
    }

    public func complete(_ completion: Completion, thenClaim claim: ClaimRequest?, now: Double) async throws -> [ClaimedTask] {
        let runID = state.withLock { $0.runs.removeValue(forKey: completion.taskID) }
        let logs = outbox.take(completion.taskID)
        let next = claim.flatMap { request in
            state.withLock { $0.interrupted } ? nil
                : Wire.Claim(free: request.free, limit: request.limit, leaseSeconds: request.leaseSeconds, waitSeconds: 0)
        }
        do {
            // A report lost now would make the task run again; it is worth waiting for.
            let report = Wire.Report(completion: completion, claim: next, logs: logs, runID: runID)
            return remember(try await CoordinatorClient.retrying(for: Self.patience) {
                try await client.call(.POST, "/v1/agent/complete", body: report, as: Wire.Claimed.self).tasks
            })
        } catch let problem as Wire.Problem {
            if let rejection = problem.rejection { throw rejection }
            throw problem
        }
    }

    public func setProgress(taskID: Int64, attempt: Int, progress: String) async throws {
        guard let runID = state.withLock({ $0.runs[taskID] }) else { return }
        _ = try await client.call(
            .POST, "/v1/agent/progress", body: Wire.Progress(runID: runID, taskID: taskID, attempt: attempt, progress: progress),
            as: CoordinatorClient.Empty.self
        )
    }

    public func cacheEntry(key: String) async throws -> CacheEntry? {
        do {
            return try await CoordinatorClient.retrying(for: Self.patience) {
                try await client.call(.GET, "/v1/agent/cache/\(key)", as: CacheEntry.self)
            }
        } catch let problem as Wire.Problem where problem.status == 404 {
            return nil
        }
    }

    private func remember(_ tasks: [ClaimedTask]) -> [ClaimedTask] {
        state.withLock { state in
            for task in tasks { state.runs[task.snapshot.id] = task.snapshot.runID }
        }
        return tasks
    }
}

/// The small logs of attempts that have ended, waiting for their reports to carry them: one
/// request per task instead of one per log file.
public final class LogOutbox: Sendable {
    private let logs = Mutex<[Int64: [String: String]]>([:])

    public init() {}

    func put(_ taskID: Int64, _ files: [String: String]) {
        logs.withLock { $0[taskID] = files.isEmpty ? nil : files }
    }

    func take(_ taskID: Int64) -> [String: String]? {
        logs.withLock { $0.removeValue(forKey: taskID) }
    }
}

/// An agent's files: a task's inputs come from the coordinator by digest into a bounded local
/// cache (the work folder's artifact store), and its outputs and logs go back before it is
/// reported. Logs are also sent every few seconds while the task runs, so that `logs` on the
/// coordinator follows it.
public final class AgentTransport: ArtifactTransport {
    let client: CoordinatorClient
    let workspace: Workspace
    /// The most bytes the local cache keeps; the files of running tasks are never removed.
    let cacheBytes: Int64
    let logInterval: Duration
    private let state = Mutex(State())

    private struct State {
        /// Digests in use by running tasks, with how many use each.
        var inUse: [String: Int] = [:]
        var logSenders: [Int64: Task<Void, Never>] = [:]
    }

    /// Where the last small logs of an attempt wait for its report.
    let outbox: LogOutbox

    public init(client: CoordinatorClient, workspace: Workspace, cacheBytes: Int64, outbox: LogOutbox, logInterval: Duration = .seconds(2)) {
        self.outbox = outbox
        self.client = client
        self.workspace = workspace
        self.cacheBytes = cacheBytes
        self.logInterval = logInterval
    }

    public func fetchInputs(of task: ClaimedTask) async throws {
        let digests = task.inputDigests
        state.withLock { state in
            for digest in digests { state.inUse[digest, default: 0] += 1 }
        }
        let artifacts = workspace.artifacts
        do {
            for digest in digests.sorted() {
                if artifacts.contains(digest) {
                    if (try? artifacts.verifiedPath(digest)) != nil {
                        touch(artifacts.path(of: digest))
                        continue
                    }
                    _ = try? artifacts.remove(digest)
                }
                try await CoordinatorClient.retrying(for: RemoteQueue.patience) {
                    try await client.download(digest, into: artifacts, query: Self.query(task))
                }
            }
        } catch {
            // The attempt ends here, without results to send: its files are in use no more.
            release(digests)
            throw error
        }
        startSendingLogs(of: task)
    }

    public func sendResults(of completion: Completion, task: ClaimedTask) async throws {
        release(task.inputDigests)
        let sender = state.withLock { $0.logSenders.removeValue(forKey: task.snapshot.id) }
        sender?.cancel()
        await sender?.value
        defer { trimCache() }
        try await sendLastLogs(of: task)
        guard case .succeeded(cacheHit: false) = completion.outcome else { return }
        for output in completion.outputs {
            try await CoordinatorClient.retrying(for: RemoteQueue.patience) {
                if try await client.hasArtifact(output.digest) { return }
                try await client.upload(file: workspace.artifacts.path(of: output.digest), to: "/v1/artifacts/\(output.digest)\(Self.query(task))")
            }
        }
        // What the attempt left behind is at the coordinator now.
        try? FileManager.default.removeItem(atPath: folder(of: task) + "/work")
    }

    private func release(_ digests: Set<String>) {
        state.withLock { state in
            for digest in digests {
                state.inUse[digest, default: 1] -= 1
                if state.inUse[digest] == 0 { state.inUse[digest] = nil }
            }
        }
    }

    static func query(_ task: ClaimedTask) -> String {
        "?run=\(task.snapshot.runID)&task=\(task.snapshot.id)&attempt=\(task.snapshot.attempt)"
    }

    private func folder(of task: ClaimedTask) -> String {
        workspace.attemptFolder(run: task.snapshot.runID, node: task.spec.nodeID, attempt: task.snapshot.attempt)
    }

    // MARK: Logs

    private func startSendingLogs(of task: ClaimedTask) {
        let interval = logInterval
        let sender = Task {
            var sizes: [String: Int64] = [:]
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                try? await self.sendLogs(of: task, changedSince: &sizes)
            }
        }
        state.withLock { $0.logSenders[task.snapshot.id] = sender }
    }

    /// The attempt's logs as it ended: small ones go with the report, larger ones now.
    private func sendLastLogs(of task: ClaimedTask) async throws {
        let folder = folder(of: task)
        var small: [String: String] = [:]
        for name in Wire.logFiles.sorted() {
            let path = "\(folder)/\(name)"
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int64, size > 0 else { continue }
            if size <= Wire.smallLogBytes, let data = FileManager.default.contents(atPath: path),
               let text = String(data: data, encoding: .utf8), text.utf8.count <= Wire.smallLogBytes {
                small[name] = text
            } else {
                try await CoordinatorClient.retrying(for: RemoteQueue.patience) {
                    try await client.upload(file: path, to: "/v1/agent/logs/\(task.snapshot.id)/\(task.snapshot.attempt)/\(name)?run=\(task.snapshot.runID)")
                }
            }
        }
        outbox.put(task.snapshot.id, small)
    }

    private func sendLogs(of task: ClaimedTask, changedSince sizes: inout [String: Int64]) async throws {
        let folder = folder(of: task)
        for name in Wire.logFiles.sorted() {
            let path = "\(folder)/\(name)"
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int64, size > 0, sizes[name] != size else { continue }
            try await client.upload(file: path, to: "/v1/agent/logs/\(task.snapshot.id)/\(task.snapshot.attempt)/\(name)?run=\(task.snapshot.runID)")
            sizes[name] = size
        }
    }

    // MARK: Cache

    private func touch(_ path: String) {
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
    }

    /// Removes the least recently used files until the cache fits its bound.
    func trimCache() {
        let artifacts = workspace.artifacts
        guard let digests = try? artifacts.allDigests() else { return }
        var files: [(digest: String, size: Int64, used: Date)] = []
        for digest in digests {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: artifacts.path(of: digest)) else { continue }
            files.append((digest, (attributes[.size] as? Int64) ?? 0, (attributes[.modificationDate] as? Date) ?? .distantPast))
        }
        var total = files.reduce(0) { $0 + $1.size }
        guard total > cacheBytes else { return }
        let inUse = state.withLock { $0.inUse }
        for file in files.sorted(by: { $0.used < $1.used }) where total > cacheBytes && inUse[file.digest] == nil {
            if (try? artifacts.remove(file.digest)) != nil { total -= file.size }
        }
    }
}

/// A node's agent: registers with the coordinator, then pulls and runs tasks with the engine's
/// ``Worker`` and ``TaskExecutor`` until stopped.
public struct Agent: Sendable {
    public var client: CoordinatorClient
    public var workspace: Workspace
    public var configuration: Worker.Configuration
    public var cacheBytes: Int64
    public var longPollSeconds: Double = 20
    /// Reads ops' HDF5 inputs in a child process first (``TaskExecutor/hdf5Verifier``).
    public var hdf5Verifier: HDF5Verifier?

    public init(client: CoordinatorClient, workspace: Workspace, configuration: Worker.Configuration, cacheBytes: Int64) {
        self.client = client
        self.workspace = workspace
        self.configuration = configuration
        self.cacheBytes = cacheBytes
    }

    /// The node the token belongs to, as the coordinator knows it.
    public func identity() async throws -> Wire.Identity {
        let identity = try await client.call(.GET, "/v1/whoami", as: Wire.Identity.self)
        guard identity.role == .agent else {
            throw EngineError("the token is node \(identity.node)'s, a client; an agent needs an agent's token ('blacktail nodes add NAME')")
        }
        return identity
    }

    /// A worker for this node, and a function that stops it gracefully: no new claims, running
    /// tasks finish and report.
    public func worker(events: @escaping @Sendable (String) -> Void) async throws -> (Worker, stop: @Sendable () -> Void) {
        try workspace.create()
        let identity = try await identity()
        let outbox = LogOutbox()
        let queue = RemoteQueue(client: client, longPollSeconds: longPollSeconds, outbox: outbox)
        var executor = TaskExecutor(workspace: workspace, catalogue: AgentOps.catalogue)
        executor.hdf5Verifier = hdf5Verifier
        let worker = Worker(
            store: queue,
            executor: executor,
            configuration: configuration,
            transport: AgentTransport(client: client, workspace: workspace, cacheBytes: cacheBytes, outbox: outbox),
            id: identity.node,
            events: events
        )
        return (worker, {
            worker.stop()
            queue.interruptClaims()
        })
    }
}

/// The ops an agent runs: the built-in ones. Those the engine implements over its store
/// (``EngineOps/names``: publishing to the market) need the store, so on an agent they fail
/// with a message that says where they run.
enum AgentOps {
    static var catalogue: OpCatalogue {
        let builtin = BuiltinOps.catalogue
        let elsewhere = builtin.entries.map(\.signature).filter { EngineOps.names.contains($0.name) }.map(StoreOnlyOp.init)
        return OpCatalogue(
            signatures: builtin.entries.map(\.signature),
            implementations: builtin.entries.compactMap(\.implementation) + elsewhere
        )
    }

    struct StoreOnlyOp: Op {
        let signature: OpSignature

        func run(_ context: OpContext) async throws {
            throw OpError("\(signature.name) needs the store and runs on one machine only, not on an agent; publish the run's model where the store is: blacktail market publish --run \(context.runID) --step STEP")
        }
    }
}
