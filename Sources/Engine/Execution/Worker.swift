import BlacktailOps
import Foundation
import Synchronization

/// Takes tasks from a store and runs them: claims what fits its free capacity, keeps each lease
/// alive by heartbeat, runs the attempt with a ``TaskExecutor``, and reports the outcome.
///
/// A worker holds no state a crash could lose: a task it was running when it died returns to the
/// queue when the lease lapses, and its late report, should it come back, is refused by the store.
public final class Worker: Sendable {
    public struct Configuration: Sendable {
        /// Tasks at once.
        public var concurrency: Int
        /// CPU slots; a task takes its `resources.cpu`.
        public var cpu: Double
        /// Memory a task's `resources.memory` is counted against; nil counts none.
        public var memoryBytes: Int64?
        /// The GPU indices this worker owns.
        public var gpus: [String]
        public var labels: [String]
        public var leaseSeconds: Double = 30
        /// How long an idle worker waits before asking the store again.
        public var pollSeconds: Double = 0.25
        /// How often a running task's progress is written to the store, at most.
        public var progressInterval: Double = 0.5
        /// Take tasks of this run only (`blacktail run`); nil takes any run's.
        public var onlyRun: String?

        public init(concurrency: Int, cpu: Double, memoryBytes: Int64? = nil, gpus: [String] = [], labels: [String] = []) {
            self.concurrency = max(1, concurrency)
            self.cpu = cpu
            self.memoryBytes = memoryBytes
            self.gpus = gpus
            self.labels = labels
        }
    }

    public let id: String
    public let configuration: Configuration
    private let store: any TaskQueue
    private let executor: TaskExecutor
    private let transport: (any ArtifactTransport)?
    private let state: Mutex<State>
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    private struct State {
        var free: Capacity
        var freeGPUs: [String]
        /// Attempts not yet reported, for ``drain()``.
        var running: [Int64: Task<Void, Never>] = [:]
        /// Slots taken by attempts still executing (an attempt frees its slot before it reports,
        /// so that its report can claim the next task).
        var busy = 0
        /// One claim at a time, so that two never count the same free slot.
        var claiming = false
        var stopping = false
        /// Attempts executing, whose leases ``keepLeases()`` extends.
        var leased: [Int64: Leased] = [:]
        /// Set when ``run(until:)`` returns: the heartbeats end once no attempt is left.
        var finished = false
    }

    private struct Leased {
        var snapshot: TaskSnapshot
        var execution: Task<Completion, Never>
    }

    /// A line for whoever watches: a rejected completion, a failure to reach the store.
    public let events: @Sendable (String) -> Void

    public init(
        store: any TaskQueue,
        executor: TaskExecutor,
        configuration: Configuration,
        transport: (any ArtifactTransport)? = nil,
        id: String? = nil,
        events: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.store = store
        self.executor = executor
        self.transport = transport
        self.configuration = configuration
        self.id = id ?? Worker.defaultID()
        self.events = events
        state = Mutex(State(
            free: Capacity(cpu: configuration.cpu, memoryBytes: configuration.memoryBytes, gpus: configuration.gpus.count, labels: Set(configuration.labels)),
            freeGPUs: configuration.gpus
        ))
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public static func defaultID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(6).lowercased())"
    }

    /// Works until `until` returns true (asked whenever this worker is idle and a claim finds
    /// nothing to take), or until the surrounding task is cancelled or ``stop()`` is called; then
    /// lets running attempts finish.
    public func run(until: @escaping @Sendable () async throws -> Bool = { false }) async throws {
        let now = Date().timeIntervalSince1970
        try await store.registerWorker(
            WorkerRecord(
                id: id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), cpu: configuration.cpu,
                memoryBytes: configuration.memoryBytes, gpus: configuration.gpus, labels: configuration.labels,
                startedAt: now, heartbeatAt: now
            ),
            now: now
        )
        Task { await keepLeases() }
        defer { state.withLock { $0.finished = true } }
        var iterator = wakes.makeAsyncIterator()
        while !Task.isCancelled, !state.withLock({ $0.stopping }) {
            // Having just claimed work, there is no need to ask whether to stop.
            if try await claimWhatFits() == 0 {
                // While attempts run here, their reports will wake the loop: ask only when idle.
                if state.withLock({ $0.running.isEmpty }), try await until() { break }
                // Sleep until a task ends here or the poll interval passes.
                let waker = wake
                let timer = Task {
                    // A timer cancelled because a wake came first must not wake the loop again.
                    guard (try? await Task.sleep(for: .seconds(configuration.pollSeconds))) != nil else { return }
                    waker.yield()
                }
                _ = await iterator.next()
                timer.cancel()
            }
        }
        await drain()
    }

    /// Stops claiming; attempts already running finish and report.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.yield()
    }

    /// Extends the lease of every attempt executing here, all at once, every `min(lease / 3, 1 s)`
    /// (often enough that a cancelled run stops within about a second), until ``run(until:)`` has
    /// returned and no attempt is left.
    private func keepLeases() async {
        let beat = min(configuration.leaseSeconds / 3, 1)
        while true {
            try? await Task.sleep(for: .seconds(beat))
            let (leased, done) = state.withLock { ($0.leased, $0.finished && $0.leased.isEmpty) }
            if done { return }
            await withTaskGroup(of: Void.self) { group in
                for attempt in leased.values {
                    group.addTask { await self.extendLease(of: attempt) }
                }
            }
        }
    }

    private func extendLease(of attempt: Leased) async {
        let snapshot = attempt.snapshot
        let reply = try? await store.heartbeat(
            taskID: snapshot.id, attempt: snapshot.attempt, worker: id,
            leaseSeconds: configuration.leaseSeconds, now: Date().timeIntervalSince1970
        )
        // An attempt that ended meanwhile has reported; what the store says of it no longer matters.
        let executing = state.withLock { $0.leased[snapshot.id]?.snapshot.attempt == snapshot.attempt }
        switch reply {
        case .lost? where executing:
            state.withLock { _ = $0.leased.removeValue(forKey: snapshot.id) }
            events("\(snapshot.nodeID) of run \(snapshot.runID): attempt \(snapshot.attempt) lost its lease; stopping it")
            attempt.execution.cancel()
        case .extended(cancelRequested: true)? where executing:
            attempt.execution.cancel()
        default:
            break
        }
    }

    private func drain() async {
        while true {
            let tasks = state.withLock { Array($0.running.values) }
            if tasks.isEmpty { return }
            for task in tasks { await task.value }
        }
    }

    private func claimWhatFits() async throws -> Int {
        guard let request = state.withLock({ beginClaim(&$0) }) else { return 0 }
        let claimed: [ClaimedTask]
        do {
            claimed = try await store.claim(request, now: Date().timeIntervalSince1970)
        } catch {
            events("worker \(id): cannot claim: \(error)")
            claimed = []
        }
        launch(claimed)
        return claimed.count
    }

    /// The request for what is free now, and the right to make it; nil when full, stopping, or
    /// another claim is under way.
    private func beginClaim(_ state: inout State) -> ClaimRequest? {
        let slots = configuration.concurrency - state.busy
        guard slots > 0, !state.stopping, !state.claiming else { return nil }
        state.claiming = true
        return ClaimRequest(
            worker: id, free: state.free, limit: slots, leaseSeconds: configuration.leaseSeconds, onlyRun: configuration.onlyRun
        )
    }

    /// Starts the attempts of claimed tasks and ends the claim.
    private func launch(_ claimed: [ClaimedTask]) {
        state.withLock { state in
            for task in claimed {
                state.busy += 1
                state.free.reserve(task.spec.resources)
                let gpus = Array(state.freeGPUs.prefix(task.spec.resources.gpus))
                state.freeGPUs.removeFirst(gpus.count)
                state.running[task.snapshot.id] = Task { await self.attempt(task, gpus: gpus) }
            }
            state.claiming = false
        }
    }

    private func attempt(_ task: ClaimedTask, gpus: [String]) async {
        let snapshot = task.snapshot
        let lastProgress = Mutex<Double>(0)
        let store = self.store
        let interval = configuration.progressInterval
        let execution = Task { [executor, transport, id] () -> Completion in
            let environment = TaskExecutor.Environment(worker: id, gpus: gpus, upstream: task.upstream) { update in
                let now = Date().timeIntervalSince1970
                let due = lastProgress.withLock { last in
                    let finalEpoch = update.epoch != nil && update.epoch == update.totalEpochs
                guard now - last >= interval || finalEpoch else { return false }
                    last = now
                    return true
                }
                guard due else { return }
                let text = TaskExecutor.progressJSON(update)
                Task { try? await store.setProgress(taskID: snapshot.id, attempt: snapshot.attempt, progress: text) }
            }
            if let transport {
                do {
                    try await transport.fetchInputs(of: task)
                } catch {
                    return Completion(
                        taskID: snapshot.id, attempt: snapshot.attempt, worker: id,
                        outcome: Task.isCancelled ? .cancelled : .failed(message: "cannot fetch the task's inputs: \(error)"),
                        startedAt: Date().timeIntervalSince1970
                    )
                }
            }
            var completion = await executor.execute(task, environment: environment) { key in
                guard let entry = try await store.cacheEntry(key: key) else { return nil }
                // A queue with a transport keeps the files itself and offers only entries it holds.
                let held = transport != nil || entry.outputs.allSatisfy { executor.workspace.artifacts.contains($0.digest) }
                return held ? entry : nil
            }
            if let transport {
                do {
                    try await transport.sendResults(of: completion, task: task)
                } catch {
                    if case .succeeded = completion.outcome {
                        completion.outcome = .failed(message: "cannot send the task's outputs: \(error)")
                    }
                }
            }
            return completion
        }
        state.withLock { $0.leased[snapshot.id] = Leased(snapshot: snapshot, execution: execution) }
        var completion = await execution.value
        state.withLock { _ = $0.leased.removeValue(forKey: snapshot.id) }
        completion.worker = id
        // Free the slot, and let the report claim what takes its place in the same transaction.
        let request = state.withLock { state in
            state.busy -= 1
            state.free.release(task.spec.resources)
            state.freeGPUs = (state.freeGPUs + gpus).sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
            return beginClaim(&state)
        }
        var next: [ClaimedTask] = []
        do {
            next = try await store.complete(completion, thenClaim: request, now: Date().timeIntervalSince1970)
        } catch let rejection as QueueCore.Rejection {
            events("\(snapshot.nodeID) of run \(snapshot.runID): the store refused attempt \(snapshot.attempt)'s result (\(rejection))")
        } catch {
            events("\(snapshot.nodeID) of run \(snapshot.runID): cannot record attempt \(snapshot.attempt): \(error)")
        }
        if request != nil { launch(next) }
        state.withLock { $0.running[snapshot.id] = nil }
        // A report that took a task into its slot leaves the loop asleep: the store had nothing
        // more to give in that same transaction. One that took none (nothing was ready, another
        // claim was under way, or the report failed) wakes it, to claim or to ask whether to stop.
        if next.isEmpty { wake.yield() }
    }
}
