public import PipelineLanguage

/// What a worker needs of the queue: to register, claim tasks, keep their leases, report their
/// progress and ends, and look up the cache. A store is one; a coordinator's client, over HTTP,
/// is another, so that a worker runs the same way on one machine and on a cluster's agent.
public protocol TaskQueue: Sendable {
    func registerWorker(_ worker: WorkerRecord, now: Double) async throws

    /// Leases ready tasks for a worker, in queue order, after returning any task whose lease
    /// lapsed to the queue. Each comes with the state and outputs of the tasks it needs, read in
    /// the same transaction.
    func claim(_ request: ClaimRequest, now: Double) async throws -> [ClaimedTask]

    /// Extends a lease. `.lost` means the attempt is no longer this worker's to finish.
    func heartbeat(taskID: Int64, attempt: Int, worker: String, leaseSeconds: Double, now: Double) async throws -> HeartbeatReply

    /// Ends an attempt, fenced by its number and worker: a stale completion throws
    /// ``QueueCore/Rejection`` and changes nothing. With a claim request, the worker's next tasks
    /// are claimed in the same transaction (one write per task instead of two).
    func complete(_ completion: Completion, thenClaim claim: ClaimRequest?, now: Double) async throws -> [ClaimedTask]

    func setProgress(taskID: Int64, attempt: Int, progress: String) async throws

    /// The outputs of the last successful task with this cache key (whether their files are
    /// still in the artifact store is for the caller to check).
    func cacheEntry(key: String) async throws -> CacheEntry?
}

/// The durable state of the queue: runs, their tasks, attempts, outputs, the cache, workers and
/// schedules.
///
/// Every method is one transaction. The rules of every change come from ``QueueCore``; a store
/// only loads the rows a change touches and writes back what the rules say, so that the SQLite
/// store here and a PostgreSQL store for clustered runs behave the same. Times are seconds since
/// 1970, passed in by the caller, so that a store has no clock of its own.
public protocol RunStore: TaskQueue, NodeDirectory {
    /// Records a run and its tasks. With an idempotency key that a run already has, nothing is
    /// added and that run's id is returned with `created == false`.
    func submit(_ submission: Submission, now: Double) async throws -> (runID: String, created: Bool)

    /// Returns tasks whose lease lapsed before `now` to the queue; the number returned.
    @discardableResult
    func expireLeases(now: Double) async throws -> Int

    /// Cancels a run: unfinished tasks end cancelled; running ones are asked to stop.
    func cancel(runID: String, now: Double) async throws

    /// Makes a finished run's failed, skipped and cancelled tasks runnable again, keeping what
    /// succeeded.
    func retry(runID: String, now: Double) async throws

    /// The state of a run, by its whole id: cheap enough to poll.
    func runState(_ id: String) async throws -> RunState?
    /// A run by id, or by a prefix of an id that only one run has.
    func run(_ id: String) async throws -> RunRecord?
    /// The resolved plan a run was submitted with, as plan JSON.
    func plan(runID: String) async throws -> String?
    /// The latest runs, newest first.
    func runs(limit: Int) async throws -> [RunRecord]
    func tasks(runID: String) async throws -> [TaskRecord]
    /// What a live view shows of each of a run's tasks, in plan order: cheap enough to poll.
    func taskProgress(runID: String) async throws -> [TaskProgress]
    /// A task as the worker that holds it sees it (its state and lease, its spec, the outputs of
    /// the tasks it needs), read now; nil when there is no such task. `runID` may help a store
    /// find it.
    func heldTask(id: Int64, runID: String?) async throws -> ClaimedTask?
    func attempts(taskID: Int64) async throws -> [AttemptRecord]

    /// Every artifact digest that a task's inputs or outputs, or a published model, name.
    func referencedDigests() async throws -> Set<String>

    func workers() async throws -> [WorkerRecord]

    func saveSchedule(_ schedule: ScheduleRecord) async throws
    func schedules() async throws -> [ScheduleRecord]
    @discardableResult
    func removeSchedule(name: String) async throws -> Bool
    /// Submits the run of one schedule tick, once: a tick already taken (by this scheduler or
    /// another on the same store) returns nil and adds nothing.
    func submitTick(schedule: String, tick: Int64, submission: Submission, now: Double) async throws -> String?
    func markScheduleChecked(name: String, through tick: Int64) async throws
}

extension RunStore {
    /// From the run's tasks, for a store without a quicker way.
    public func taskProgress(runID: String) async throws -> [TaskProgress] {
        try await tasks(runID: runID).map(TaskProgress.init)
    }

    /// From the run's tasks, for a store without a quicker way.
    public func heldTask(id: Int64, runID: String?) async throws -> ClaimedTask? {
        guard let runID else { return nil }
        let tasks = try await tasks(runID: runID)
        guard let task = tasks.first(where: { $0.snapshot.id == id }), let run = try await run(runID) else { return nil }
        let byNode = Dictionary(tasks.map { ($0.spec.nodeID, $0) }, uniquingKeysWith: { first, _ in first })
        var upstream: [String: UpstreamTask] = [:]
        for node in task.spec.needs {
            guard let needed = byNode[node] else { continue }
            upstream[node] = UpstreamTask(state: needed.snapshot.state, outputs: Dictionary(needed.outputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }))
        }
        return ClaimedTask(
            snapshot: task.snapshot, spec: task.spec, projectDirectory: run.projectDirectory, noCache: run.noCache,
            deterministic: true, upstream: upstream
        )
    }
}

extension ClaimedTask {
    /// The digest of every file the task reads: the upstream outputs its arguments name, recorded
    /// project files and market models.
    public var inputDigests: Set<String> {
        var digests: Set<String> = []
        for named in spec.arguments {
            switch named.argument {
            case .artifact(let reference):
                if let digest = upstream[reference.node]?.outputs[reference.output]?.digest { digests.insert(digest) }
            case .artifacts(let references):
                for reference in references {
                    if let digest = upstream[reference.node]?.outputs[reference.output]?.digest { digests.insert(digest) }
                }
            case .recordedFile(_, let digest), .pinned(let digest, _, _):
                digests.insert(digest)
            case .value, .projectFile, .deferred:
                continue
            }
        }
        return digests
    }
}

extension TaskQueue {
    /// Ends an attempt without claiming more.
    public func complete(_ completion: Completion, now: Double) async throws {
        _ = try await complete(completion, thenClaim: nil, now: now)
    }

    public func claim(worker: String, free: Capacity, limit: Int, leaseSeconds: Double, onlyRun: String? = nil, now: Double) async throws -> [ClaimedTask] {
        try await claim(ClaimRequest(worker: worker, free: free, limit: limit, leaseSeconds: leaseSeconds, onlyRun: onlyRun), now: now)
    }
}

/// What a worker asks of the queue: up to `limit` tasks that fit what it has free.
public struct ClaimRequest: Sendable, Codable {
    public var worker: String
    public var free: Capacity
    public var limit: Int
    public var leaseSeconds: Double
    /// Tasks of this run only (`blacktail run`); nil takes any run's.
    public var onlyRun: String?

    public init(worker: String, free: Capacity, limit: Int, leaseSeconds: Double, onlyRun: String? = nil) {
        self.worker = worker
        self.free = free
        self.limit = limit
        self.leaseSeconds = leaseSeconds
        self.onlyRun = onlyRun
    }
}

/// A run to add to the queue.
public struct Submission: Sendable, Codable {
    public var runID: String
    public var pipeline: String
    public var pipelinePath: String
    public var projectDirectory: String
    public var fileDigest: String
    /// JSON object of the parameters.
    public var params: String
    /// The resolved plan, as plan JSON.
    public var plan: String
    public var priority: Int
    public var idempotencyKey: String?
    public var failFast: Bool
    public var noCache: Bool
    public var deterministic: Bool
    public var blacktailVersion: String
    public var host: String
    public var platform: String
    /// In plan order.
    public var tasks: [TaskSpec]

    public init(
        runID: String, pipeline: String, pipelinePath: String, projectDirectory: String, fileDigest: String,
        params: String, plan: String, priority: Int = 0, idempotencyKey: String? = nil, failFast: Bool = false,
        noCache: Bool = false, deterministic: Bool = true, blacktailVersion: String, host: String, platform: String,
        tasks: [TaskSpec]
    ) {
        self.runID = runID
        self.pipeline = pipeline
        self.pipelinePath = pipelinePath
        self.projectDirectory = projectDirectory
        self.fileDigest = fileDigest
        self.params = params
        self.plan = plan
        self.priority = priority
        self.idempotencyKey = idempotencyKey
        self.failFast = failFast
        self.noCache = noCache
        self.deterministic = deterministic
        self.blacktailVersion = blacktailVersion
        self.host = host
        self.platform = platform
        self.tasks = tasks
    }
}

/// A task a worker leased, with what it needs to run it.
public struct ClaimedTask: Sendable, Codable {
    public var snapshot: TaskSnapshot
    public var spec: TaskSpec
    public var projectDirectory: String
    public var noCache: Bool
    public var deterministic: Bool
    /// The tasks it needs, by node: their states and outputs when it was claimed.
    public var upstream: [String: UpstreamTask]
}

public enum HeartbeatReply: Sendable, Equatable, Codable {
    case extended(cancelRequested: Bool)
    case lost
}

/// The end of an attempt, as a worker reports it.
public struct Completion: Sendable, Codable {
    public var taskID: Int64
    public var attempt: Int
    public var worker: String
    public var outcome: Outcome
    public var outputs: [ArtifactRecord]
    public var inputs: [ArtifactRecord]
    public var cacheKey: String?
    public var startedAt: Double

    public init(
        taskID: Int64, attempt: Int, worker: String, outcome: Outcome, outputs: [ArtifactRecord] = [],
        inputs: [ArtifactRecord] = [], cacheKey: String? = nil, startedAt: Double
    ) {
        self.taskID = taskID
        self.attempt = attempt
        self.worker = worker
        self.outcome = outcome
        self.outputs = outputs
        self.inputs = inputs
        self.cacheKey = cacheKey
        self.startedAt = startedAt
    }
}

/// A named file of the store: an output, or an input (several for a list input, by position).
public struct ArtifactRecord: Sendable, Hashable, Codable {
    public var name: String
    public var position: Int
    public var type: String
    public var digest: String
    public var size: Int64
    /// Where an input came from: `NODE.OUTPUT`, or a project file's path.
    public var source: String?

    public init(name: String, position: Int = 0, type: String, digest: String, size: Int64, source: String? = nil) {
        self.name = name
        self.position = position
        self.type = type
        self.digest = digest
        self.size = size
        self.source = source
    }
}

public struct UpstreamTask: Sendable, Codable {
    public var state: TaskState
    public var outputs: [String: ArtifactRecord]
}

public struct CacheEntry: Sendable, Codable {
    public var runID: String
    public var nodeID: String
    public var createdAt: Double
    public var outputs: [ArtifactRecord]
}

public struct RunRecord: Sendable, Codable {
    public var id: String
    public var pipeline: String
    public var pipelinePath: String
    public var projectDirectory: String
    public var fileDigest: String
    public var params: String
    public var priority: Int
    public var idempotencyKey: String?
    public var state: RunState
    public var failFast: Bool
    public var noCache: Bool
    public var cancelRequested: Bool
    public var submittedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var blacktailVersion: String
    public var host: String
    public var platform: String
    public var counts: TaskCounts
}

public struct TaskRecord: Sendable, Codable {
    public var snapshot: TaskSnapshot
    public var spec: TaskSpec
    public var index: Int
    public var worker: String?
    public var startedAt: Double?
    public var finishedAt: Double?
    public var cacheKey: String?
    public var cacheHit: Bool
    /// The latest progress report, as JSON.
    public var progress: String?
    public var outputs: [ArtifactRecord]
    public var inputs: [ArtifactRecord]
}

/// A task's state and progress, without its spec, inputs or outputs.
public struct TaskProgress: Sendable, Codable {
    public var nodeID: String
    public var state: TaskState
    public var attempt: Int
    public var message: String?
    public var startedAt: Double?
    public var finishedAt: Double?
    public var cacheHit: Bool
    /// The latest progress report, as JSON.
    public var progress: String?

    public init(_ task: TaskRecord) {
        nodeID = task.spec.nodeID
        state = task.snapshot.state
        attempt = task.snapshot.attempt
        message = task.snapshot.message
        startedAt = task.startedAt
        finishedAt = task.finishedAt
        cacheHit = task.cacheHit
        progress = task.progress
    }

    public init(
        nodeID: String, state: TaskState, attempt: Int, message: String?, startedAt: Double?, finishedAt: Double?, cacheHit: Bool,
        progress: String?
    ) {
        self.nodeID = nodeID
        self.state = state
        self.attempt = attempt
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.cacheHit = cacheHit
        self.progress = progress
    }
}

public struct AttemptRecord: Sendable, Codable {
    public var attempt: Int
    public var worker: String
    public var startedAt: Double
    public var finishedAt: Double?
    /// `succeeded`, `failed`, `skipped`, `cancelled`, `lost` (the lease lapsed), or nil while running.
    public var outcome: String?
    public var message: String?
}

public struct WorkerRecord: Sendable, Codable {
    public var id: String
    public var host: String
    public var pid: Int
    public var cpu: Double
    public var memoryBytes: Int64?
    public var gpus: [String]
    public var labels: [String]
    public var startedAt: Double
    public var heartbeatAt: Double

    public init(id: String, host: String, pid: Int, cpu: Double, memoryBytes: Int64?, gpus: [String], labels: [String], startedAt: Double, heartbeatAt: Double) {
        self.id = id
        self.host = host
        self.pid = pid
        self.cpu = cpu
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.labels = labels
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }
}

/// A pipeline run on a cron schedule.
public struct ScheduleRecord: Sendable, Hashable {
    public enum MissedTicks: String, Sendable, Codable, CaseIterable {
        /// Run only the latest missed tick.
        case skip
        /// Run every missed tick, oldest first (at most ``Scheduler/catchUpLimit``).
        case catchUp = "catch-up"
    }

    public var name: String
    public var pipelinePath: String
    public var projectDirectory: String
    public var cron: String
    /// `name=value` parameters, as given on the command line.
    public var params: [String]
    public var missed: MissedTicks
    public var createdAt: Double
    /// The last tick (seconds since 1970) that has been dealt with.
    public var checkedThrough: Int64

    public init(name: String, pipelinePath: String, projectDirectory: String, cron: String, params: [String], missed: MissedTicks, createdAt: Double, checkedThrough: Int64) {
        self.name = name
        self.pipelinePath = pipelinePath
        self.projectDirectory = projectDirectory
        self.cron = cron
        self.params = params
        self.missed = missed
        self.createdAt = createdAt
        self.checkedThrough = checkedThrough
    }
}
