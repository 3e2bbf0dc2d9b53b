import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The ``RunStore`` of a cluster: PostgreSQL, shared by every coordinator and worker that opens it.
///
/// The rules are the same as the SQLite store's, from ``QueueCore``; only the loading and writing
/// of rows differ. Each change is one transaction that first takes a transaction-level advisory
/// lock, so that changes apply one after another as they do in SQLite, whatever the number of
/// processes; ready tasks are chosen with `FOR UPDATE SKIP LOCKED`. Reads take no lock.
///
/// Open it with a URL, `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, and call ``close()``
/// when done.
public final class PostgresStore: RunStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()

    /// The schema versions, applied in order; a database with a later one is refused.
    static let schemaVersion = 3
    /// The key of the advisory lock that orders changes.
    private static let changeLock: Int64 = 0x626C_6163_6B74_6169 // "blacktai"

    public init(url: String, logger: Logger = Logger(label: "blacktail.postgres", factory: { _ in SwiftLogNoOpLogHandler() })) async throws {
        var configuration = try Self.configuration(url)
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            try await migrate()
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Stops the connection pool.
    public func close() async {
        runner.cancel()
        _ = await runner.value
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw EngineError("'\(url)' is not a PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")
        }
        let database = String(components.path.drop { $0 == "/" })
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: .disable
        )
    }

    // MARK: Schema

    private func migrate() async throws {
        try await change { db in
            try await db.run("CREATE TABLE IF NOT EXISTS schema_versions (version BIGINT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            let applied = try await db.value(Int.self, "SELECT COALESCE(MAX(version), 0) FROM schema_versions") ?? 0
            if applied > Self.schemaVersion {
                throw EngineError("the store was made by a newer blacktail (schema \(applied), this one knows \(Self.schemaVersion)); use that version")
            }
            if applied < 1 {
                for statement in Self.schemaV1 { try await db.run(PostgresQuery(unsafeSQL: statement)) }
                try await db.run("INSERT INTO schema_versions (version, applied_at) VALUES (1, \(Date().timeIntervalSince1970))")
            }
            if applied < 2 {
                for statement in Self.schemaV2 { try await db.run(PostgresQuery(unsafeSQL: statement)) }
                try await db.run("INSERT INTO schema_versions (version, applied_at) VALUES (2, \(Date().timeIntervalSince1970))")
            }
            if applied < 3 {
                for statement in Self.schemaV3 { try await db.run(PostgresQuery(unsafeSQL: statement)) }
                try await db.run("INSERT INTO schema_versions (version, applied_at) VALUES (3, \(Date().timeIntervalSince1970))")
            }
        }
    }

    private static let schemaV1 = [
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, pipeline TEXT NOT NULL, pipeline_path TEXT NOT NULL,
            project_dir TEXT NOT NULL, file_sha256 TEXT NOT NULL, params TEXT NOT NULL, priority BIGINT NOT NULL,
            idempotency_key TEXT UNIQUE, state TEXT NOT NULL, fail_fast BOOLEAN NOT NULL, no_cache BOOLEAN NOT NULL,
            deterministic BOOLEAN NOT NULL, cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
            submitted_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION,
            blacktail_version TEXT NOT NULL, host TEXT NOT NULL, platform TEXT NOT NULL,
            unfinished BIGINT NOT NULL, failed BIGINT NOT NULL DEFAULT 0, cancelled BIGINT NOT NULL DEFAULT 0
        )
        """,
        "CREATE TABLE run_plans (run_id TEXT PRIMARY KEY, plan TEXT NOT NULL)",
        """
        CREATE TABLE tasks (
            id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, node_id TEXT NOT NULL, idx BIGINT NOT NULL, state TEXT NOT NULL,
            attempt BIGINT NOT NULL DEFAULT 0, first_attempt BIGINT NOT NULL DEFAULT 0, lost_leases BIGINT NOT NULL DEFAULT 0,
            pending BIGINT NOT NULL, upstream_issue BIGINT NOT NULL DEFAULT 0, status_functions BOOLEAN NOT NULL,
            priority BIGINT NOT NULL, run_seq BIGINT NOT NULL, cpu DOUBLE PRECISION NOT NULL, memory BIGINT NOT NULL,
            gpus BIGINT NOT NULL, labels TEXT NOT NULL, retry_attempts BIGINT NOT NULL, retry_initial DOUBLE PRECISION NOT NULL,
            retry_factor DOUBLE PRECISION NOT NULL, retry_max DOUBLE PRECISION NOT NULL, not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
            lease_owner TEXT, lease_expires DOUBLE PRECISION, cancel_requested BOOLEAN NOT NULL DEFAULT FALSE, message TEXT,
            worker TEXT, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, cache_key TEXT,
            cache_hit BOOLEAN NOT NULL DEFAULT FALSE, progress TEXT,
            UNIQUE (run_id, node_id)
        )
        """,
        "CREATE TABLE task_specs (task_id BIGINT PRIMARY KEY, spec TEXT NOT NULL)",
        "CREATE INDEX tasks_ready ON tasks (priority DESC, run_seq, idx) WHERE state = 'ready'",
        "CREATE INDEX tasks_running ON tasks (lease_expires) WHERE state = 'running'",
        "CREATE INDEX tasks_by_run ON tasks (run_id, idx)",
        "CREATE TABLE task_needs (task_id BIGINT NOT NULL, needs_id BIGINT NOT NULL, PRIMARY KEY (task_id, needs_id))",
        "CREATE INDEX task_needs_by_upstream ON task_needs (needs_id)",
        """
        CREATE TABLE attempts (
            task_id BIGINT NOT NULL, attempt BIGINT NOT NULL, worker TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION, outcome TEXT, message TEXT, PRIMARY KEY (task_id, attempt)
        )
        """,
        """
        CREATE TABLE artifacts (
            task_id BIGINT NOT NULL, direction TEXT NOT NULL, name TEXT NOT NULL, position BIGINT NOT NULL, type TEXT NOT NULL,
            digest TEXT NOT NULL, size BIGINT NOT NULL, source TEXT, PRIMARY KEY (task_id, direction, name, position)
        )
        """,
        "CREATE INDEX artifacts_by_digest ON artifacts (digest)",
        "CREATE TABLE cache (key TEXT PRIMARY KEY, task_id BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL)",
        """
        CREATE TABLE workers (
            id TEXT PRIMARY KEY, host TEXT NOT NULL, pid BIGINT NOT NULL, cpu DOUBLE PRECISION NOT NULL, memory BIGINT,
            gpus TEXT NOT NULL, labels TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL, heartbeat_at DOUBLE PRECISION NOT NULL
        )
        """,
        """
        CREATE TABLE schedules (
            name TEXT PRIMARY KEY, pipeline_path TEXT NOT NULL, project_dir TEXT NOT NULL, cron TEXT NOT NULL, params TEXT NOT NULL,
            missed TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, checked_through BIGINT NOT NULL
        )
        """,
        "CREATE TABLE schedule_ticks (schedule TEXT NOT NULL, tick BIGINT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (schedule, tick))",
    ]

    // MARK: Submitting

    public func submit(_ submission: Submission, now: Double) async throws -> (runID: String, created: Bool) {
        let specs = try submission.tasks.map { try String(decoding: encoder.encode($0), as: UTF8.self) }
        return try await change { db in
            if let key = submission.idempotencyKey,
               let existing = try await db.value(String.self, "SELECT id FROM runs WHERE idempotency_key = \(key)") {
                return (existing, false)
            }
            try await self.insert(submission, specs: specs, now: now, in: db)
            return (submission.runID, true)
        }
    }

    private func insert(_ submission: Submission, specs: [String], now: Double, in db: Connection) async throws {
        let seq = try await db.value(Int.self, "SELECT COALESCE(MAX(seq), 0) + 1 FROM runs") ?? 1
        try await db.run("""
            INSERT INTO runs (id, seq, pipeline, pipeline_path, project_dir, file_sha256, params, priority,
                idempotency_key, state, fail_fast, no_cache, deterministic, submitted_at, blacktail_version, host, platform, unfinished)
            VALUES (\(submission.runID), \(seq), \(submission.pipeline), \(submission.pipelinePath), \(submission.projectDirectory),
                \(submission.fileDigest), \(submission.params), \(submission.priority), \(submission.idempotencyKey), 'queued',
                \(submission.failFast), \(submission.noCache), \(submission.deterministic), \(now), \(submission.blacktailVersion),
                \(submission.host), \(submission.platform), \(submission.tasks.count))
            """)
        try await db.run("INSERT INTO run_plans (run_id, plan) VALUES (\(submission.runID), \(submission.plan))")
        // Every task in one statement, in plan order, so that ids follow the plan as one insert
        // each would number them; their specs go in beside them.
        let tasks = submission.tasks
        let rows = try await db.rows("""
            WITH inserted AS (
                INSERT INTO tasks (run_id, node_id, idx, state, pending, status_functions, priority, run_seq,
                    cpu, memory, gpus, labels, retry_attempts, retry_initial, retry_factor, retry_max)
                SELECT \(submission.runID), v.node_id, v.idx, v.state, v.pending, v.status_functions, \(submission.priority), \(seq),
                    v.cpu, v.memory, v.gpus, v.labels, v.retry_attempts, v.retry_initial, v.retry_factor, v.retry_max
                FROM unnest(\(tasks.map(\.nodeID)), \(Array(tasks.indices)), \(tasks.map { ($0.needs.isEmpty ? TaskState.ready : .waiting).rawValue }),
                    \(tasks.map(\.needs.count)), \(tasks.map(\.usesStatusFunctions)), \(tasks.map(\.resources.cpu)),
                    \(tasks.map(\.resources.memoryBytes)), \(tasks.map(\.resources.gpus)), \(tasks.map { $0.resources.labels.joined(separator: ",") }),
                    \(tasks.map(\.retry.attempts)), \(tasks.map(\.retry.initialSeconds)), \(tasks.map(\.retry.factor)),
                    \(tasks.map(\.retry.maximumSeconds)))
                    AS v(node_id, idx, state, pending, status_functions, cpu, memory, gpus, labels, retry_attempts, retry_initial, retry_factor, retry_max)
                ORDER BY v.idx
                RETURNING id, idx
            ), specs AS (
                INSERT INTO task_specs (task_id, spec)
                SELECT i.id, v.spec FROM inserted i JOIN unnest(\(specs)) WITH ORDINALITY AS v(spec, position) ON v.position = i.idx + 1
            )
            SELECT id, idx FROM inserted
            """)
        var ids = [Int64](repeating: 0, count: tasks.count)
        for row in rows { ids[try row.get(1, as: Int.self)] = try row.get(0) }
        let index = Dictionary(tasks.enumerated().map { ($1.nodeID, $0) }, uniquingKeysWith: { first, _ in first })
        var needs: (tasks: [Int64], upstream: [Int64]) = ([], [])
        for (position, task) in tasks.enumerated() {
            for need in task.needs {
                guard let upstream = index[need] else {
                    throw EngineError("task \(task.nodeID) needs \(need), which is not in the run")
                }
                needs.tasks.append(ids[position])
                needs.upstream.append(ids[upstream])
            }
        }
        if !needs.tasks.isEmpty {
            try await db.run("INSERT INTO task_needs (task_id, needs_id) SELECT * FROM unnest(\(needs.tasks), \(needs.upstream))")
        }
    }

    // MARK: Claiming

    public func claim(_ request: ClaimRequest, now: Double) async throws -> [ClaimedTask] {
        try await change(replyingWhileCommitting: decodeClaims) { db in
            guard request.limit > 0 else {
                try await self.expireLeases(now: now, in: db)
                return []
            }
            return try await self.claim([(request, now)], expiringLeasesAt: now, in: db)[0]
        }
    }

    private typealias ClaimRow = (snapshot: TaskSnapshot, spec: String, project: String, noCache: Bool, deterministic: Bool, upstream: [String: UpstreamTask])

    /// Claims for several requests in one change, each after the one before it as if alone, with
    /// one statement for all their leases. With `expiry`, the leases that lapsed before then end first.
    private func claim(
        _ requests: [(request: ClaimRequest, now: Double)], expiringLeasesAt expiry: Double? = nil, in db: Connection
    ) async throws -> [[ClaimRow]] {
        let chosen = try await choose(for: requests, expiringLeasesAt: expiry, in: db)
        guard chosen.contains(where: { !$0.isEmpty }) else { return chosen.map { _ in [] } }

        // The rules make each lease from the columns its task was chosen by (they change only the
        // state, attempt and lease). The statement that writes the leases reads the tasks back
        // whole, as they were, and the same rule makes each the claimed task, which must carry
        // the lease that was written.
        let leases = zip(requests, chosen).map { claim, tasks in
            tasks.map { QueueCore.claimed($0, by: claim.request.worker, now: claim.now, leaseSeconds: claim.request.leaseSeconds) }
        }
        var written: [(task: TaskSnapshot, worker: String, now: Double)] = []
        var startedRuns: [(id: String, now: Double)] = []
        for ((request, now), tasks) in zip(requests, leases) {
            for task in tasks {
                written.append((task, request.worker, now))
                if !startedRuns.contains(where: { $0.id == task.runID }) { startedRuns.append((task.runID, now)) }
            }
        }
        var read: [Int64: (task: TaskSnapshot, spec: String, project: String, noCache: Bool, deterministic: Bool, hasNeeds: Bool)] = [:]
        let first = Self.snapshotColumnCount
        for row in try await db.rows(Leases(tasks: written, startedRuns: startedRuns)) {
            let task = try snapshot(row)
            read[task.id] = (task, try row.get(first), try row.get(first + 1), try row.get(first + 2), try row.get(first + 3), try row.get(first + 4))
        }
        var claimed = try zip(requests, leases).map { claim, leases in
            try leases.map { lease -> ClaimRow in
                guard let row = read[lease.id] else { throw EngineError("task \(lease.id) has no spec or run") }
                let task = QueueCore.claimed(row.task, by: claim.request.worker, now: claim.now, leaseSeconds: claim.request.leaseSeconds)
                guard task.attempt == lease.attempt, task.leaseExpires == lease.leaseExpires else {
                    throw EngineError("the lease of task \(task.id) depends on more than it was chosen by")
                }
                return (task, row.spec, row.project, row.noCache, row.deterministic, [:])
            }
        }

        let needing = written.map(\.task.id).filter { read[$0]?.hasNeeds == true }
        if !needing.isEmpty {
            let upstream = try await self.upstream(of: needing, in: db)
            for index in claimed.indices {
                for position in claimed[index].indices {
                    claimed[index][position].upstream = upstream[claimed[index][position].snapshot.id] ?? [:]
                }
            }
        }
        return claimed
    }

    /// The ready tasks each request takes, in order. A request pages through the ready tasks in
    /// queue order (less those taken by the requests before it) until the worker is full, passing
    /// over tasks that do not fit, and looks at no more than 16 pages.
    ///
    /// With `expiry`, the leases that lapsed before then end first. Whether any did comes with the
    /// first ready tasks read, so that a claim that finds none spends no statement on it.
    private func choose(
        for requests: [(request: ClaimRequest, now: Double)], expiringLeasesAt expiry: Double?, in db: Connection
    ) async throws -> [[TaskSnapshot]] {
        var expiry = expiry
        var queues: [String?: ReadyQueue] = [:]
        var taken: Set<Int64> = []
        var chosen: [[TaskSnapshot]] = []
        for (index, (request, now)) in requests.enumerated() {
            guard request.limit > 0 else {
                chosen.append([])
                continue
            }
            let page = max(request.limit * 2, 16)
            let queue = queues[request.onlyRun] ?? ReadyQueue(onlyRun: request.onlyRun)
            queues[request.onlyRun] = queue
            if queue.tasks.isEmpty, !queue.isComplete {
                // Enough for every request that chooses from these when the first tasks fit, with
                // room for what the requests before it take; more are read when they do not.
                var takenBefore = requests[..<index].reduce(0) { $0 + max($1.request.limit, 0) }
                var needed = 0
                for (later, _) in requests[index...] {
                    if later.onlyRun == request.onlyRun { needed = max(needed, later.limit + takenBefore) }
                    takenBefore += max(later.limit, 0)
                }
                let lapsed = try await read(needed, into: queue, lapsedBefore: expiry, in: db)
                if let now = expiry, lapsed || queue.tasks.isEmpty, try await expireLeases(now: now, in: db) > 0 {
                    queue.tasks = []
                    queue.isComplete = false
                    try await read(needed, into: queue, in: db)
                }
                expiry = nil
            }
            // The rules choose from the tasks in order, so it does not matter how many are read at
            // a time, only that no more than 16 pages are looked at.
            var picked: [TaskSnapshot] = []
            var free = request.free
            var position = 0
            var looked = 0
            while picked.count < request.limit, looked < page * 16 {
                if position == queue.tasks.count {
                    if queue.isComplete { break }
                    try await read(page, into: queue, in: db)
                    continue
                }
                var candidates: [TaskSnapshot] = []
                while position < queue.tasks.count, looked + candidates.count < page * 16 {
                    let task = queue.tasks[position]
                    position += 1
                    if !taken.contains(task.id) { candidates.append(task) }
                }
                for task in QueueCore.choose(from: candidates, free: free, limit: request.limit - picked.count, now: now) {
                    free.reserve(task.resources)
                    picked.append(task)
                    taken.insert(task.id)
                }
                looked += candidates.count
            }
            chosen.append(picked)
        }
        return chosen
    }

    /// Ready tasks in queue order, as far as they have been read: what a claim chooses from.
    private final class ReadyQueue {
        let onlyRun: String?
        var tasks: [TaskSnapshot] = []
        /// Whether every ready task has been read.
        var isComplete = false

        init(onlyRun: String?) {
            self.onlyRun = onlyRun
        }
    }

    /// Reads up to `count` more ready tasks, locking them, with what choosing and leasing them
    /// needs. With `lapsedBefore`, whether a lease lapsed before then (found out only if a task
    /// was read).
    @discardableResult
    private func read(_ count: Int, into queue: ReadyQueue, lapsedBefore: Double? = nil, in db: Connection) async throws -> Bool {
        let offset = queue.tasks.count
        let rows = if let onlyRun = queue.onlyRun {
            try await db.rows(ReadyTasksOfRun(runID: onlyRun, limit: count, offset: offset, lapsedBefore: lapsedBefore))
        } else {
            try await db.rows(ReadyTasks(limit: count, offset: offset, lapsedBefore: lapsedBefore))
        }
        queue.tasks += try rows.map { row in
            TaskSnapshot(
                id: try row.get(0), runID: try row.get(1), nodeID: "", state: .ready, attempt: try row.get(2),
                resources: try Self.resources(row, from: 3), notBefore: try row.get(7)
            )
        }
        if rows.count < count { queue.isComplete = true }
        return try rows.first?.get(8) ?? false
    }

    @Sendable
    private func decodeClaims(_ rows: [ClaimRow]) throws -> [ClaimedTask] {
        try rows.map { row in
            ClaimedTask(
                snapshot: row.snapshot, spec: try spec(row.snapshot.id, row.spec), projectDirectory: row.project,
                noCache: row.noCache, deterministic: row.deterministic, upstream: row.upstream
            )
        }
    }

    public func heartbeat(taskID: Int64, attempt: Int, worker: String, leaseSeconds: Double, now: Double) async throws -> HeartbeatReply {
        try await change { db in
            guard let row = try await db.row("SELECT \(unescaped: Self.snapshotColumns) FROM tasks WHERE id = \(taskID)") else { return .lost }
            let task = try self.snapshot(row)
            guard QueueCore.acceptsHeartbeat(task, worker: worker, attempt: attempt) else { return .lost }
            try await db.run("UPDATE tasks SET lease_expires = \(now + leaseSeconds) WHERE id = \(taskID)")
            try await db.run("UPDATE workers SET heartbeat_at = \(now) WHERE id = \(worker)")
            return .extended(cancelRequested: task.cancelRequested)
        }
    }

    public func expireLeases(now: Double) async throws -> Int {
        try await change { db in try await self.expireLeases(now: now, in: db) }
    }

    @discardableResult
    private func expireLeases(now: Double, in db: Connection) async throws -> Int {
        let rows = try await db.rows(LapsedLeases(now: now))
        guard !rows.isEmpty else { return 0 }
        let lapsed = try rows.map(snapshot)
        let changes = ChangeSet()
        try await load(lapsed.map(\.id), into: changes, in: db)
        // Each as it was read at the start, as the SQLite store does.
        for task in lapsed {
            let next = QueueCore.leaseLapsed(task)
            let message = "the lease lapsed (worker \(task.leaseOwner ?? "?") stopped sending heartbeats)"
            changes.endAttempt(taskID: task.id, attempt: task.attempt, .init(finishedAt: now, outcome: "lost", message: message))
            try await save(next, from: task.state, now: now, in: changes, db: db)
            if next.state.isFinished { try await finish(next, now: now, in: changes, db: db) }
        }
        try await write(changes, in: db)
        return lapsed.count
    }

    // MARK: Completing

    /// Completions that arrive while a change is in flight are committed together in the next one.
    private let completions = GroupCommit<(completion: Completion, claim: ClaimRequest?, now: Double), [ClaimRow]>()

    public func complete(_ completion: Completion, thenClaim claim: ClaimRequest?, now: Double) async throws -> [ClaimedTask] {
        let rows = try await completions.submit((completion, claim, now)) { batch in
            // A refused completion (a stale attempt) changes nothing and does not stop the
            // others; the claims that come with completions are made after all of them. The
            // completions apply one after another to the rows read for them all at once, and
            // their writes go back together.
            try await self.change { db in
                let changes = ChangeSet()
                try await self.load(batch.map(\.completion.taskID), into: changes, in: db)
                var rejections: [QueueCore.Rejection?] = []
                for item in batch {
                    do {
                        try await self.complete(item.completion, now: item.now, in: changes, db: db)
                        rejections.append(nil)
                    } catch let rejection as QueueCore.Rejection {
                        rejections.append(rejection)
                    }
                }
                try await self.write(changes, in: db)
                let claiming = zip(batch, rejections).compactMap { item, rejection in
                    rejection == nil ? item.claim.map { (request: $0, now: item.now) } : nil
                }
                var claimed = try await self.claim(claiming, in: db)[...]
                return zip(batch, rejections).map { item, rejection -> Result<[ClaimRow], any Error> in
                    if let rejection { return .failure(rejection) }
                    guard item.claim != nil else { return .success([]) }
                    return .success(claimed.popFirst()!)
                }
            }
        }
        return try decodeClaims(rows)
    }

    private func complete(_ completion: Completion, now: Double, in changes: ChangeSet, db: Connection) async throws {
        let jitter = Double(Digest.seed(fromHex: Digest.sha256("\(completion.taskID)/\(completion.attempt)")) % 1_000_000) / 1_000_000
        guard let task = try await task(completion.taskID, in: changes, db: db) else {
            throw EngineError("no task \(completion.taskID)")
        }
        let next = try QueueCore.completed(
            task, attempt: completion.attempt, worker: completion.worker, outcome: completion.outcome, now: now, jitter: jitter
        ).get()
        let (outcome, message): (String, String?) = switch completion.outcome {
        case .succeeded(let hit): ("succeeded", hit ? "cache hit" : nil)
        case .failed(let message): ("failed", message)
        case .skipped(let reason): ("skipped", reason)
        case .cancelled: ("cancelled", nil)
        }
        changes.endAttempt(taskID: completion.taskID, attempt: completion.attempt, .init(finishedAt: now, outcome: outcome, message: message))
        if !completion.inputs.isEmpty {
            changes.replaceArtifacts(completion.inputs, direction: "in", taskID: completion.taskID)
        }
        if case .succeeded(let hit) = completion.outcome {
            if !completion.outputs.isEmpty {
                changes.replaceArtifacts(completion.outputs, direction: "out", taskID: completion.taskID)
            }
            if let key = completion.cacheKey, !hit {
                changes.addCacheEntry(key: key, taskID: completion.taskID, createdAt: now)
            }
        }
        try await save(next, from: task.state, now: now, in: changes, db: db)
        if case .succeeded(let hit) = completion.outcome {
            changes.setCache(taskID: completion.taskID, key: completion.cacheKey, hit: hit)
        }
        if next.state.isFinished { try await finish(next, now: now, in: changes, db: db) }
    }

    /// Records a task's new state and moves its run's counters, in the change set.
    private func save(_ task: TaskSnapshot, from old: TaskState, now: Double, in changes: ChangeSet, db: Connection) async throws {
        let change = QueueCore.counterChange(from: old, to: task.state)
        if change != (0, 0, 0), try await run(task.runID, in: changes, db: db) != nil {
            changes.change(run: task.runID) { run in
                run.unfinished += change.unfinished
                run.failed += change.failed
                run.cancelled += change.cancelled
            }
        }
        changes.save(task, finishedAt: task.state.isFinished ? now : nil)
    }

    /// Passes a finished task's end on to the tasks that need it, transitively, then updates the
    /// run: its state, and with `--fail-fast` a cancellation after a failure.
    private func finish(_ task: TaskSnapshot, now: Double, in changes: ChangeSet, db: Connection) async throws {
        var ended: [TaskSnapshot] = [task]
        while let upstream = ended.popLast() {
            for dependant in try await dependants(of: upstream.id, in: changes, db: db) where dependant.state == .waiting {
                let next = QueueCore.upstreamEnded(dependant, upstream: upstream.state)
                try await save(next, from: dependant.state, now: now, in: changes, db: db)
                if next.state.isFinished { ended.append(next) }
            }
        }
        guard let run = try await run(task.runID, in: changes, db: db) else { return }
        if run.failFast, task.state == .failed {
            // Cancelling changes rows in bulk: it sees what this change wrote, and what the change
            // read before it is read again.
            try await write(changes, in: db)
            try await cancel(runID: task.runID, now: now, in: db)
            changes.forget()
        }
        try await updateRunState(task.runID, now: now, in: changes, db: db)
    }

    private func updateRunState(_ runID: String, now: Double, in changes: ChangeSet, db: Connection) async throws {
        guard try await run(runID, in: changes, db: db) != nil else { return }
        changes.change(run: runID) { run in
            run.state = QueueCore.runState(
                unfinished: run.unfinished, failed: run.failed, cancelled: run.cancelled, started: run.started, cancelRequested: run.cancelRequested
            )
            run.finishedAt = run.state.isFinished ? run.finishedAt ?? now : nil
        }
    }

    private func updateRunState(_ runID: String, now: Double, in db: Connection) async throws {
        guard let row = try await db.row("""
            SELECT unfinished, failed, cancelled, started_at IS NOT NULL, cancel_requested FROM runs WHERE id = \(runID)
            """) else { return }
        let state = QueueCore.runState(
            unfinished: try row.get(0), failed: try row.get(1), cancelled: try row.get(2), started: try row.get(3), cancelRequested: try row.get(4)
        )
        let finishedAt: Double? = state.isFinished ? now : nil
        try await db.run("UPDATE runs SET state = \(state.rawValue), finished_at = CASE WHEN \(state.isFinished) THEN COALESCE(finished_at, \(finishedAt)) ELSE NULL END WHERE id = \(runID)")
    }

    private func recount(_ runID: String, in db: Connection) async throws {
        let counts = try await counts(runID: runID, in: db)
        try await db.run("UPDATE runs SET unfinished = \(counts.unfinished), failed = \(counts.failed), cancelled = \(counts.cancelled) WHERE id = \(runID)")
    }

    private func counts(runID: String, in db: Connection) async throws -> TaskCounts {
        var counts = TaskCounts()
        for row in try await db.rows("SELECT state, COUNT(*) FROM tasks WHERE run_id = \(runID) GROUP BY state") {
            if let state = TaskState(rawValue: try row.get(0)) { counts[state] = try row.get(1) }
        }
        return counts
    }

    // MARK: Cancelling and retrying

    public func cancel(runID: String, now: Double) async throws {
        try await change { db in
            guard try await db.value(String.self, "SELECT id FROM runs WHERE id = \(runID)") != nil else {
                throw EngineError("no run \(runID)")
            }
            try await self.cancel(runID: runID, now: now, in: db)
            try await self.updateRunState(runID, now: now, in: db)
        }
    }

    private func cancel(runID: String, now: Double, in db: Connection) async throws {
        try await db.run("UPDATE runs SET cancel_requested = TRUE WHERE id = \(runID)")
        try await db.run("""
            UPDATE tasks SET state = 'cancelled', message = 'cancelled', finished_at = \(now)
            WHERE run_id = \(runID) AND state IN ('waiting', 'ready')
            """)
        try await db.run("UPDATE tasks SET cancel_requested = TRUE WHERE run_id = \(runID) AND state = 'running'")
        try await recount(runID, in: db)
    }

    public func retry(runID: String, now: Double) async throws {
        try await change { db in
            guard let state = try await db.value(String.self, "SELECT state FROM runs WHERE id = \(runID)") else {
                throw EngineError("no run \(runID)")
            }
            guard RunState(rawValue: state)?.isFinished == true else {
                throw EngineError("run \(runID) is \(state); only a finished run can be retried")
            }
            try await db.run("""
                UPDATE tasks SET state = 'waiting', first_attempt = attempt, lost_leases = 0, upstream_issue = 0, not_before = 0,
                    cancel_requested = FALSE, message = NULL, started_at = NULL, finished_at = NULL, lease_owner = NULL,
                    lease_expires = NULL, progress = NULL
                WHERE run_id = \(runID) AND state != 'succeeded'
                """)
            try await db.run("""
                UPDATE tasks SET pending = (
                    SELECT COUNT(*) FROM task_needs n JOIN tasks u ON u.id = n.needs_id
                    WHERE n.task_id = tasks.id AND u.state != 'succeeded')
                WHERE run_id = \(runID) AND state = 'waiting'
                """)
            try await db.run("UPDATE tasks SET state = 'ready' WHERE run_id = \(runID) AND state = 'waiting' AND pending = 0")
            try await db.run("UPDATE runs SET cancel_requested = FALSE, state = 'running', finished_at = NULL WHERE id = \(runID)")
            try await self.recount(runID, in: db)
            try await self.updateRunState(runID, now: now, in: db)
        }
    }

    public func setProgress(taskID: Int64, attempt: Int, progress: String) async throws {
        try await change { db in
            try await db.run("UPDATE tasks SET progress = \(progress) WHERE id = \(taskID) AND attempt = \(attempt) AND state = 'running'")
        }
    }

    // MARK: Reading

    /// The tasks that claimed tasks need, by claimed task and node: their states and outputs.
    private func upstream(of taskIDs: [Int64], in db: Connection) async throws -> [Int64: [String: UpstreamTask]] {
        var result: [Int64: [String: UpstreamTask]] = [:]
        for row in try await db.rows(UpstreamTasks(ids: taskIDs)) {
            let taskID: Int64 = try row.get(0)
            let node: String = try row.get(1)
            let state = TaskState(rawValue: try row.get(2)) ?? .failed
            var task = result[taskID]?[node] ?? UpstreamTask(state: state, outputs: [:])
            if let name = try row.get(3, as: String?.self), task.outputs[name] == nil {
                task.outputs[name] = ArtifactRecord(
                    name: name, position: try row.get(4), type: try row.get(5), digest: try row.get(6), size: try row.get(7), source: try row.get(8)
                )
            }
            result[taskID, default: [:]][node] = task
        }
        return result
    }

    public func heldTask(id taskID: Int64, runID: String?) async throws -> ClaimedTask? {
        let row: ClaimRow? = try await read { db in
            guard let row = try await db.row("""
                SELECT \(unescaped: Self.taskColumns), s.spec, r.project_dir, r.no_cache, r.deterministic
                FROM tasks t JOIN task_specs s ON s.task_id = t.id JOIN runs r ON r.id = t.run_id WHERE t.id = \(taskID)
                """) else { return nil }
            let columns = Self.snapshotColumnCount
            return (
                try self.snapshot(row), try row.get(columns), try row.get(columns + 1), try row.get(columns + 2), try row.get(columns + 3),
                try await self.upstream(of: [taskID], in: db)[taskID] ?? [:]
            )
        }
        return try row.map { try decodeClaims([$0])[0] }
    }

    public func cacheEntry(key: String) async throws -> CacheEntry? {
        try await read { db in
            guard let row = try await db.row("""
                SELECT t.id, t.run_id, t.node_id, c.created_at FROM cache c JOIN tasks t ON t.id = c.task_id WHERE c.key = \(key)
                """) else { return nil }
            return CacheEntry(
                runID: try row.get(1), nodeID: try row.get(2), createdAt: try row.get(3),
                outputs: try await self.artifacts(taskID: try row.get(0), direction: "out", in: db)
            )
        }
    }

    public func runState(_ id: String) async throws -> RunState? {
        try await read { db in
            try await db.value(String.self, "SELECT state FROM runs WHERE id = \(id)").flatMap(RunState.init(rawValue:))
        }
    }

    private static let runColumns = """
        id, pipeline, pipeline_path, project_dir, file_sha256, params, priority, idempotency_key, state, fail_fast, no_cache,
        cancel_requested, submitted_at, started_at, finished_at, blacktail_version, host, platform
        """

    public func run(_ id: String) async throws -> RunRecord? {
        try await read { db in
            var rows = try await db.rows("SELECT \(unescaped: Self.runColumns) FROM runs WHERE id = \(id)")
            if rows.isEmpty {
                rows = try await db.rows("SELECT \(unescaped: Self.runColumns) FROM runs WHERE id LIKE \(id.likePrefixPattern) LIMIT 2")
                if rows.count > 1 { throw EngineError("'\(id)' matches several runs; give more of the id") }
            }
            guard let row = rows.first else { return nil }
            return try await self.runRecord(row, in: db)
        }
    }

    public func plan(runID: String) async throws -> String? {
        try await read { db in try await db.value(String.self, "SELECT plan FROM run_plans WHERE run_id = \(runID)") }
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        try await read { db in
            var records: [RunRecord] = []
            for row in try await db.rows("SELECT \(unescaped: Self.runColumns) FROM runs ORDER BY seq DESC LIMIT \(limit)") {
                records.append(try await self.runRecord(row, in: db))
            }
            return records
        }
    }

    public func tasks(runID: String) async throws -> [TaskRecord] {
        try await read { db in
            let rows = try await db.rows("""
                SELECT \(unescaped: Self.snapshotColumns), s.spec, idx, worker, started_at, finished_at, cache_key, cache_hit, progress
                FROM tasks JOIN task_specs s ON s.task_id = tasks.id WHERE run_id = \(runID) ORDER BY idx
                """)
            var artifacts: [Int64: (inputs: [ArtifactRecord], outputs: [ArtifactRecord])] = [:]
            for row in try await db.rows("""
                SELECT a.task_id, a.direction, a.name, a.position, a.type, a.digest, a.size, a.source
                FROM artifacts a JOIN tasks t ON t.id = a.task_id WHERE t.run_id = \(runID) ORDER BY a.task_id, a.name, a.position
                """) {
                let record = ArtifactRecord(
                    name: try row.get(2), position: try row.get(3), type: try row.get(4), digest: try row.get(5), size: try row.get(6), source: try row.get(7)
                )
                let taskID: Int64 = try row.get(0)
                if (try row.get(1) as String) == "out" {
                    artifacts[taskID, default: ([], [])].outputs.append(record)
                } else {
                    artifacts[taskID, default: ([], [])].inputs.append(record)
                }
            }
            let first = Self.snapshotColumnCount
            return try rows.map { row in
                let snapshot = try self.snapshot(row)
                return TaskRecord(
                    snapshot: snapshot,
                    spec: try self.spec(snapshot.id, try row.get(first)),
                    index: try row.get(first + 1),
                    worker: try row.get(first + 2),
                    startedAt: try row.get(first + 3),
                    finishedAt: try row.get(first + 4),
                    cacheKey: try row.get(first + 5),
                    cacheHit: try row.get(first + 6),
                    progress: try row.get(first + 7),
                    outputs: artifacts[snapshot.id]?.outputs ?? [],
                    inputs: artifacts[snapshot.id]?.inputs ?? []
                )
            }
        }
    }

    public func attempts(taskID: Int64) async throws -> [AttemptRecord] {
        try await read { db in
            try await db.rows("""
                SELECT attempt, worker, started_at, finished_at, outcome, message FROM attempts WHERE task_id = \(taskID) ORDER BY attempt
                """).map { row in
                AttemptRecord(
                    attempt: try row.get(0), worker: try row.get(1), startedAt: try row.get(2),
                    finishedAt: try row.get(3), outcome: try row.get(4), message: try row.get(5)
                )
            }
        }
    }

    public func referencedDigests() async throws -> Set<String> {
        try await read { db in
            Set(try await db.rows("SELECT DISTINCT digest FROM artifacts").map { try $0.get(0) as String })
        }
    }

    // MARK: Workers

    public func registerWorker(_ worker: WorkerRecord, now: Double) async throws {
        let gpus = try json(worker.gpus)
        let labels = try json(worker.labels)
        try await change { db in
            try await db.run("""
                INSERT INTO workers (id, host, pid, cpu, memory, gpus, labels, started_at, heartbeat_at)
                VALUES (\(worker.id), \(worker.host), \(worker.pid), \(worker.cpu), \(worker.memoryBytes), \(gpus), \(labels), \(worker.startedAt), \(now))
                ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, cpu = EXCLUDED.cpu, memory = EXCLUDED.memory,
                    gpus = EXCLUDED.gpus, labels = EXCLUDED.labels, started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at
                """)
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await read { db in
            try await db.rows("SELECT id, host, pid, cpu, memory, gpus, labels, started_at, heartbeat_at FROM workers ORDER BY started_at").map { row in
                WorkerRecord(
                    id: try row.get(0), host: try row.get(1), pid: try row.get(2), cpu: try row.get(3), memoryBytes: try row.get(4),
                    gpus: try self.decoder.decode([String].self, from: Data((try row.get(5) as String).utf8)),
                    labels: try self.decoder.decode([String].self, from: Data((try row.get(6) as String).utf8)),
                    startedAt: try row.get(7), heartbeatAt: try row.get(8)
                )
            }
        }
    }

    // MARK: Schedules

    public func saveSchedule(_ schedule: ScheduleRecord) async throws {
        let params = try json(schedule.params)
        try await change { db in
            try await db.run("""
                INSERT INTO schedules (name, pipeline_path, project_dir, cron, params, missed, created_at, checked_through)
                VALUES (\(schedule.name), \(schedule.pipelinePath), \(schedule.projectDirectory), \(schedule.cron), \(params),
                    \(schedule.missed.rawValue), \(schedule.createdAt), \(schedule.checkedThrough))
                ON CONFLICT (name) DO UPDATE SET pipeline_path = EXCLUDED.pipeline_path, project_dir = EXCLUDED.project_dir,
                    cron = EXCLUDED.cron, params = EXCLUDED.params, missed = EXCLUDED.missed, created_at = EXCLUDED.created_at,
                    checked_through = EXCLUDED.checked_through
                """)
        }
    }

    public func schedules() async throws -> [ScheduleRecord] {
        try await read { db in
            try await db.rows("""
                SELECT name, pipeline_path, project_dir, cron, params, missed, created_at, checked_through FROM schedules ORDER BY name
                """).map { row in
                ScheduleRecord(
                    name: try row.get(0), pipelinePath: try row.get(1), projectDirectory: try row.get(2), cron: try row.get(3),
                    params: try self.decoder.decode([String].self, from: Data((try row.get(4) as String).utf8)),
                    missed: ScheduleRecord.MissedTicks(rawValue: try row.get(5)) ?? .skip,
                    createdAt: try row.get(6), checkedThrough: try row.get(7)
                )
            }
        }
    }

    public func removeSchedule(name: String) async throws -> Bool {
        try await change { db in
            try await db.value(String.self, "DELETE FROM schedules WHERE name = \(name) RETURNING name") != nil
        }
    }

    public func submitTick(schedule: String, tick: Int64, submission: Submission, now: Double) async throws -> String? {
        let specs = try submission.tasks.map { try String(decoding: encoder.encode($0), as: UTF8.self) }
        return try await change { db in
            guard try await db.value(String.self, """
                INSERT INTO schedule_ticks (schedule, tick, run_id) VALUES (\(schedule), \(tick), \(submission.runID))
                ON CONFLICT DO NOTHING RETURNING run_id
                """) != nil else { return nil }
            try await self.insert(submission, specs: specs, now: now, in: db)
            return submission.runID
        }
    }

    public func markScheduleChecked(name: String, through tick: Int64) async throws {
        try await change { db in
            try await db.run("UPDATE schedules SET checked_through = GREATEST(checked_through, \(tick)) WHERE name = \(name)")
        }
    }

    /// Runs a statement as it is, outside the store's rules: for tests and repairs.
    func execute(_ sql: String) async throws {
        try await change { db in try await db.run(PostgresQuery(unsafeSQL: sql)) }
    }

    // MARK: Rows

    /// The columns of a ``TaskSnapshot``, in the order ``snapshot(_:)`` reads them.
    private static let snapshotColumnNames = [
        "id", "run_id", "node_id", "state", "attempt", "first_attempt", "lost_leases", "pending", "upstream_issue", "status_functions",
        "priority", "cpu", "memory", "gpus", "labels", "retry_attempts", "retry_initial", "retry_factor", "retry_max",
        "not_before", "lease_owner", "lease_expires", "cancel_requested", "message",
    ]
    static let snapshotColumns = snapshotColumnNames.joined(separator: ", ")
    /// The same, of `tasks t`, for statements that join other tables.
    static let taskColumns = snapshotColumnNames.map { "t.\($0)" }.joined(separator: ", ")
    static let snapshotColumnCount = snapshotColumnNames.count

    private let specs = SpecCache()

    private func spec(_ taskID: Int64, _ json: String) throws -> TaskSpec {
        try specs.spec(taskID, json)
    }

    func snapshot(_ row: PostgresRandomAccessRow) throws -> TaskSnapshot {
        TaskSnapshot(
            id: try row.get(0),
            runID: try row.get(1),
            nodeID: try row.get(2),
            state: TaskState(rawValue: try row.get(3)) ?? .failed,
            attempt: try row.get(4),
            firstAttempt: try row.get(5),
            lostLeases: try row.get(6),
            pending: try row.get(7),
            upstreamIssue: UpstreamIssue(rawValue: try row.get(8)) ?? .none,
            usesStatusFunctions: try row.get(9),
            priority: try row.get(10),
            resources: try Self.resources(row, from: 11),
            retry: RetryPolicySpec(attempts: try row.get(15), initialSeconds: try row.get(16), factor: try row.get(17), maximumSeconds: try row.get(18)),
            notBefore: try row.get(19),
            leaseOwner: try row.get(20),
            leaseExpires: try row.get(21),
            cancelRequested: try row.get(22),
            message: try row.get(23)
        )
    }

    private static func resources(_ row: PostgresRandomAccessRow, from first: Int) throws -> ResourceSpec {
        let labels: String = try row.get(first + 3)
        return ResourceSpec(
            cpu: try row.get(first), memoryBytes: try row.get(first + 1), gpus: try row.get(first + 2),
            labels: labels.isEmpty ? [] : labels.split(separator: ",").map(String.init)
        )
    }

    private func runRecord(_ row: PostgresRandomAccessRow, in db: Connection) async throws -> RunRecord {
        let id: String = try row.get(0)
        return RunRecord(
            id: id, pipeline: try row.get(1), pipelinePath: try row.get(2), projectDirectory: try row.get(3),
            fileDigest: try row.get(4), params: try row.get(5), priority: try row.get(6),
            idempotencyKey: try row.get(7), state: RunState(rawValue: try row.get(8)) ?? .failed,
            failFast: try row.get(9), noCache: try row.get(10), cancelRequested: try row.get(11),
            submittedAt: try row.get(12), startedAt: try row.get(13), finishedAt: try row.get(14),
            blacktailVersion: try row.get(15), host: try row.get(16), platform: try row.get(17),
            counts: try await counts(runID: id, in: db)
        )
    }

    private func artifacts(taskID: Int64, direction: String, in db: Connection) async throws -> [ArtifactRecord] {
        try await db.rows("""
            SELECT name, position, type, digest, size, source FROM artifacts WHERE task_id = \(taskID) AND direction = \(direction) ORDER BY name, position
            """).map { row in
            ArtifactRecord(name: try row.get(0), position: try row.get(1), type: try row.get(2), digest: try row.get(3), size: try row.get(4), source: try row.get(5))
        }
    }

    private func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    // MARK: Transactions

    /// A connection in a transaction, with the queries the store runs.
    struct Connection {
        let connection: PostgresConnection
        let logger: Logger

        func run(_ query: PostgresQuery) async throws {
            try await connection.query(query, logger: logger)
        }

        func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
            try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
        }

        func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? {
            try await rows(query).first
        }

        func value<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> T? {
            guard let row = try await row(query), row[0].bytes != nil else { return nil }
            return try row[0].decode(T.self)
        }
    }

    /// One change: a transaction that holds the store's change lock until it commits.
    ///
    /// It runs on the event loop of its connection, so that each reply goes on with the change on
    /// the thread that received it instead of waking another one: a change is a series of round
    /// trips, and on a small machine the thread switches cost as much as the server's work. (The
    /// work between the statements is small; reads, which may decode much, stay off the loop.)
    func change<T: Sendable>(_ body: (Connection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await withTaskExecutorPreference(EventLoopExecutor(connection.eventLoop)) {
                    try await connection.withTransaction(logger: logger) { connection in
                        let db = Connection(connection: connection, logger: logger)
                        try await db.run(ChangeLock(key: Self.changeLock))
                        return try await body(db)
                    }
                }
            }
        } catch let error as PostgresTransactionError {
            // What the change itself threw (a refused report, an unknown run) is the caller's to see.
            guard let cause = error.closureError ?? error.beginError ?? error.commitError else {
                throw EngineError("the PostgreSQL store failed: \(error)")
            }
            if let cause = cause as? PSQLError { throw Self.storeError(cause) }
            throw cause
        } catch let error as PSQLError {
            throw Self.storeError(error)
        }
    }

    /// A change whose result becomes the reply (decoding specs, say) on another thread while the
    /// transaction commits. If the commit fails, the reply is made for nothing and dropped.
    func change<T: Sendable, Reply: Sendable>(
        replyingWhileCommitting reply: @escaping @Sendable (T) throws -> Reply, _ body: (Connection) async throws -> T
    ) async throws -> Reply {
        let replying: Task<Reply, any Error> = try await change { db in
            let value = try await body(db)
            return Task { try reply(value) }
        }
        return try await replying.value
    }

    /// Runs Swift tasks on a NIO event loop. (`_Concurrency` because the engine has a
    /// `TaskExecutor` of its own, which runs pipeline tasks.)
    private final class EventLoopExecutor: _Concurrency.TaskExecutor {
        let loop: any EventLoop

        init(_ loop: any EventLoop) {
            self.loop = loop
        }

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    func read<T: Sendable>(_ body: (Connection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await body(Connection(connection: connection, logger: logger))
            }
        } catch let error as PSQLError {
            throw Self.storeError(error)
        }
    }

    private static func storeError(_ error: PSQLError) -> EngineError {
        if let message = error.serverInfo?[.message] {
            return EngineError("the PostgreSQL store failed: \(message)")
        }
        return EngineError("the PostgreSQL store failed: \(error.code)")
    }
}

extension PostgresRandomAccessRow {
    /// The value of column `index`.
    func get<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        try self[index].decode(T.self)
    }
}
