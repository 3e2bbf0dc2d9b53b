/// Where a task is in its life.
public enum TaskState: String, Sendable, Codable, CaseIterable {
    /// Some task it needs has not ended.
    case waiting
    /// Claimable (from `notBefore` on, after a failed try).
    case ready
    /// Leased to a worker.
    case running
    case succeeded
    case failed
    /// Not run: its condition was false, or a task it needs failed or was skipped.
    case skipped
    case cancelled

    public var isFinished: Bool {
        switch self {
        case .succeeded, .failed, .skipped, .cancelled: true
        case .waiting, .ready, .running: false
        }
    }
}

/// Where a run is, derived from its tasks.
public enum RunState: String, Sendable, Codable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    case cancelled

    public var isFinished: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .queued, .running: false
        }
    }
}

/// Whether something upstream kept a waiting task from its normal course.
public enum UpstreamIssue: Int, Sendable, Codable {
    case none = 0
    /// A task it needs was skipped (its condition was false, or further upstream something failed).
    case skipped = 1
    /// A task it needs failed or was cancelled.
    case failed = 2
}

/// What a worker reports at the end of an attempt.
public enum Outcome: Sendable, Equatable, Codable {
    case succeeded(cacheHit: Bool)
    /// The task's condition was false when its turn came.
    case skipped(reason: String)
    case failed(message: String)
    case cancelled
}

/// What a task asks of a worker.
public struct ResourceSpec: Sendable, Hashable, Codable {
    public var cpu: Double
    public var memoryBytes: Int64
    public var gpus: Int
    public var labels: [String]

    public init(cpu: Double = 1, memoryBytes: Int64 = 0, gpus: Int = 0, labels: [String] = []) {
        self.cpu = cpu
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.labels = labels
    }
}

/// What a worker has free.
public struct Capacity: Sendable, Hashable, Codable {
    public var cpu: Double
    /// Bytes; nil when the worker does not account memory.
    public var memoryBytes: Int64?
    public var gpus: Int
    public var labels: Set<String>

    public init(cpu: Double, memoryBytes: Int64? = nil, gpus: Int = 0, labels: Set<String> = []) {
        self.cpu = cpu
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.labels = labels
    }

    public func fits(_ request: ResourceSpec) -> Bool {
        request.cpu <= cpu + 1e-9
            && (memoryBytes.map { request.memoryBytes <= $0 } ?? true)
            && request.gpus <= gpus
            && request.labels.allSatisfy(labels.contains)
    }

    public mutating func reserve(_ request: ResourceSpec) {
        cpu -= request.cpu
        memoryBytes = memoryBytes.map { $0 - request.memoryBytes }
        gpus -= request.gpus
    }

    public mutating func release(_ request: ResourceSpec) {
        cpu += request.cpu
        memoryBytes = memoryBytes.map { $0 + request.memoryBytes }
        gpus += request.gpus
    }
}

/// `retry:` as the queue applies it.
public struct RetryPolicySpec: Sendable, Hashable, Codable {
    /// Tries in all, the first included.
    public var attempts: Int
    public var initialSeconds: Double
    public var factor: Double
    public var maximumSeconds: Double

    public init(attempts: Int = 1, initialSeconds: Double = 10, factor: Double = 2, maximumSeconds: Double = 600) {
        self.attempts = max(1, attempts)
        self.initialSeconds = initialSeconds
        self.factor = factor
        self.maximumSeconds = maximumSeconds
    }
}

/// The queue's view of one task: the columns the rules read and write.
public struct TaskSnapshot: Sendable, Hashable, Codable {
    public var id: Int64
    public var runID: String
    public var nodeID: String
    public var state: TaskState
    /// The attempt now running or last run; 0 before the first claim. Attempt numbers never
    /// repeat, through retries of the run included.
    public var attempt: Int
    /// The attempt number before the current round of tries (0, or where `blacktail retry` found it).
    public var firstAttempt: Int
    /// How many attempts of the current round ended because the lease lapsed.
    public var lostLeases: Int
    /// How many tasks it needs have not ended.
    public var pending: Int
    public var upstreamIssue: UpstreamIssue
    /// Whether its condition calls `always()`, `success()` or `failure()`, so that it decides for
    /// itself whether to run after an upstream failure.
    public var usesStatusFunctions: Bool
    public var priority: Int
    public var resources: ResourceSpec
    public var retry: RetryPolicySpec
    /// The earliest time a claim may take it (seconds since 1970).
    public var notBefore: Double
    public var leaseOwner: String?
    public var leaseExpires: Double?
    public var cancelRequested: Bool
    public var message: String?

    public init(
        id: Int64,
        runID: String,
        nodeID: String,
        state: TaskState,
        attempt: Int = 0,
        firstAttempt: Int = 0,
        lostLeases: Int = 0,
        pending: Int = 0,
        upstreamIssue: UpstreamIssue = .none,
        usesStatusFunctions: Bool = false,
        priority: Int = 0,
        resources: ResourceSpec = ResourceSpec(),
        retry: RetryPolicySpec = RetryPolicySpec(),
        notBefore: Double = 0,
        leaseOwner: String? = nil,
        leaseExpires: Double? = nil,
        cancelRequested: Bool = false,
        message: String? = nil
    ) {
        self.id = id
        self.runID = runID
        self.nodeID = nodeID
        self.state = state
        self.attempt = attempt
        self.firstAttempt = firstAttempt
        self.lostLeases = lostLeases
        self.pending = pending
        self.upstreamIssue = upstreamIssue
        self.usesStatusFunctions = usesStatusFunctions
        self.priority = priority
        self.resources = resources
        self.retry = retry
        self.notBefore = notBefore
        self.leaseOwner = leaseOwner
        self.leaseExpires = leaseExpires
        self.cancelRequested = cancelRequested
        self.message = message
    }
}

/// How many of a run's tasks are in each state.
public struct TaskCounts: Sendable, Hashable, Codable {
    public var waiting = 0
    public var ready = 0
    public var running = 0
    public var succeeded = 0
    public var failed = 0
    public var skipped = 0
    public var cancelled = 0

    public init() {}

    public var total: Int { waiting + ready + running + finished }
    public var finished: Int { succeeded + failed + skipped + cancelled }
    public var unfinished: Int { waiting + ready + running }

    public subscript(state: TaskState) -> Int {
        get {
            switch state {
            case .waiting: waiting
            case .ready: ready
            case .running: running
            case .succeeded: succeeded
            case .failed: failed
            case .skipped: skipped
            case .cancelled: cancelled
            }
        }
        set {
            switch state {
            case .waiting: waiting = newValue
            case .ready: ready = newValue
            case .running: running = newValue
            case .succeeded: succeeded = newValue
            case .failed: failed = newValue
            case .skipped: skipped = newValue
            case .cancelled: cancelled = newValue
            }
        }
    }
}
