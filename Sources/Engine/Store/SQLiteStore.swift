import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The ``RunStore`` of one machine: a SQLite database in WAL mode, shared safely by every process
/// that opens it (`run`, `worker`, `scheduler`, `status`).
///
/// Each change is one IMMEDIATE transaction, so writers from several processes queue on SQLite's
/// lock (waiting up to `busyTimeout`) instead of failing. `synchronous = NORMAL`: a commit survives
/// a crash of any process; after a power cut the last commits may be lost but the database stays
/// consistent.
public final class SQLiteStore: RunStore {
    let pool: DatabasePool
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()
    private let busyTimeoutMilliseconds: Int
    /// Writes of this store under way in this process (see ``write(_:)``).
    private let writesUnderWay = Mutex(0)

    public init(path: String, busyTimeout: TimeInterval = 30) throws {
        busyTimeoutMilliseconds = Int((busyTimeout * 1_000).rounded())
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = Self.migrator
            if try pool.read({ db in try migrator.hasBeenSuperseded(db) }) {
                throw EngineError("the store \(path) was made by a newer blacktail; use that version")
            }
            try migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw EngineError("cannot open the store \(path): \(error.message ?? error.description)")
        }
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    // MARK: Schema

    /// The schema's versions, applied in order; `blacktail` refuses a store from a newer version.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY,
                    seq INTEGER NOT NULL UNIQUE,
                    pipeline TEXT NOT NULL,
                    pipeline_path TEXT NOT NULL,
                    project_dir TEXT NOT NULL,
                    file_sha256 TEXT NOT NULL,
                    params TEXT NOT NULL,
                    priority INTEGER NOT NULL,
                    idempotency_key TEXT UNIQUE,
                    state TEXT NOT NULL,
                    fail_fast INTEGER NOT NULL,
                    no_cache INTEGER NOT NULL,
                    deterministic INTEGER NOT NULL,
                    cancel_requested INTEGER NOT NULL DEFAULT 0,
                    submitted_at REAL NOT NULL,
                    started_at REAL,
                    finished_at REAL,
                    blacktail_version TEXT NOT NULL,
                    host TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    unfinished INTEGER NOT NULL,
                    failed INTEGER NOT NULL DEFAULT 0,
                    cancelled INTEGER NOT NULL DEFAULT 0
                );
                -- Apart from runs: a plan can be megabytes, and runs rows are rewritten on every
                -- task's end.
                CREATE TABLE run_plans (
                    run_id TEXT PRIMARY KEY,
                    plan TEXT NOT NULL
                );
                CREATE TABLE tasks (
                    id INTEGER PRIMARY KEY,
                    run_id TEXT NOT NULL,
                    node_id TEXT NOT NULL,
                    idx INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    attempt INTEGER NOT NULL DEFAULT 0,
                    first_attempt INTEGER NOT NULL DEFAULT 0,
                    lost_leases INTEGER NOT NULL DEFAULT 0,
                    pending INTEGER NOT NULL,
                    upstream_issue INTEGER NOT NULL DEFAULT 0,
                    status_functions INTEGER NOT NULL,
                    priority INTEGER NOT NULL,
                    run_seq INTEGER NOT NULL,
                    cpu REAL NOT NULL,
                    memory INTEGER NOT NULL,
                    gpus INTEGER NOT NULL,
                    labels TEXT NOT NULL,
                    retry_attempts INTEGER NOT NULL,
                    retry_initial REAL NOT NULL,
                    retry_factor REAL NOT NULL,
                    retry_max REAL NOT NULL,
                    not_before REAL NOT NULL DEFAULT 0,
                    lease_owner TEXT,
                    lease_expires REAL,
                    cancel_requested INTEGER NOT NULL DEFAULT 0,
                    message TEXT,
                    worker TEXT,
                    started_at REAL,
                    finished_at REAL,
                    cache_key TEXT,
                    cache_hit INTEGER NOT NULL DEFAULT 0,
                    progress TEXT,
                    UNIQUE (run_id, node_id)
                );
                -- Apart from tasks for the same reason: a sink that needs 10,000 tasks has a large
                -- spec, and its tasks row changes as each of them ends.
                CREATE TABLE task_specs (
                    task_id INTEGER PRIMARY KEY,
                    spec TEXT NOT NULL
                );
                CREATE INDEX tasks_ready ON tasks (priority DESC, run_seq, idx) WHERE state = 'ready';
                CREATE INDEX tasks_running ON tasks (lease_expires) WHERE state = 'running';
                CREATE INDEX tasks_by_run ON tasks (run_id, idx);
                CREATE TABLE task_needs (
                    task_id INTEGER NOT NULL,
                    needs_id INTEGER NOT NULL,
                    PRIMARY KEY (task_id, needs_id)
                ) WITHOUT ROWID;
                CREATE INDEX task_needs_by_upstream ON task_needs (needs_id);
                CREATE TABLE attempts (
                    task_id INTEGER NOT NULL,
                    attempt INTEGER NOT NULL,
                    worker TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    finished_at REAL,
                    outcome TEXT,
                    message TEXT,
                    PRIMARY KEY (task_id, attempt)
                ) WITHOUT ROWID;
                CREATE TABLE artifacts (
                    task_id INTEGER NOT NULL,
                    direction TEXT NOT NULL,
                    name TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    source TEXT,
                    PRIMARY KEY (task_id, direction, name, position)
                ) WITHOUT ROWID;
                CREATE INDEX artifacts_by_digest ON artifacts (digest);
                CREATE TABLE cache (
                    key TEXT PRIMARY KEY,
                    task_id INTEGER NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE workers (
                    id TEXT PRIMARY KEY,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    cpu REAL NOT NULL,
                    memory INTEGER,
                    gpus TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    heartbeat_at REAL NOT NULL
                );
                CREATE TABLE schedules (
                    name TEXT PRIMARY KEY,
                    pipeline_path TEXT NOT NULL,
                    project_dir TEXT NOT NULL,
                    cron TEXT NOT NULL,
                    params TEXT NOT NULL,
                    missed TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    checked_through INTEGER NOT NULL
                );
                CREATE TABLE schedule_ticks (
                    schedule TEXT NOT NULL,
                    tick INTEGER NOT NULL,
                    run_id TEXT NOT NULL,
                    PRIMARY KEY (schedule, tick)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2", migrate: SQLiteStore.createMarketTables)
        migrator.registerMigration("v3", migrate: SQLiteStore.createNodeTables)
        // Fewer pages written per report: the cache is kept by its key alone (its rows had a
        // rowid table and an index on the key, both written at each entry), and only running
        // tasks are indexed by worker (the index on worker and state moved at every change of
        // state, from one part of the index to another).
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                CREATE TABLE cache_by_key (
                    key TEXT PRIMARY KEY,
                    task_id INTEGER NOT NULL,
                    created_at REAL NOT NULL
                ) WITHOUT ROWID;
                INSERT INTO cache_by_key (key, task_id, created_at) SELECT key, task_id, created_at FROM cache;
                DROP TABLE cache;
                ALTER TABLE cache_by_key RENAME TO cache;
                DROP INDEX tasks_by_worker;
                CREATE INDEX tasks_running_by_worker ON tasks (worker) WHERE state = 'running';
                """)
        }
        // One page fewer per claim and per report: the running tasks are found by their lease
        // alone (`tasks_running`); the count of each node's running tasks reads those.
        migrator.registerMigration("v5") { db in
            try db.execute(sql: "DROP INDEX tasks_running_by_worker")
        }
        return migrator
    }

    // MARK: Submitting

    public func submit(_ submission: Submission, now: Double) async throws -> (runID: String, created: Bool) {
        let specs = try submission.tasks.map { try String(decoding: encoder.encode($0), as: UTF8.self) }
        let (runID, ids) = try await write { db -> (String, [Int64]?) in
            if let key = submission.idempotencyKey,
               let existing = try db.value(String.self, sql: "SELECT id FROM runs WHERE idempotency_key = ?", arguments: [key]) {
                return (existing, nil)
            }
            return (submission.runID, try self.insert(submission, specs: specs, now: now, in: db))
        }
        guard let ids else { return (runID, false) }
        // Committed: a worker of this process takes the specs as they are, without decoding them.
        self.specs.remember(zip(ids, submission.tasks))
        return (runID, true)
    }

    /// The new tasks' ids, in the submission's order.
    private func insert(_ submission: Submission, specs: [String], now: Double, in db: Database) throws -> [Int64] {
        let seq = (try db.value(Int64.self, sql: "SELECT COALESCE(MAX(seq), 0) + 1 FROM runs")) ?? 1
        try db.run(
            sql: """
                INSERT INTO runs (id, seq, pipeline, pipeline_path, project_dir, file_sha256, params, priority,
                    idempotency_key, state, fail_fast, no_cache, deterministic, submitted_at, blacktail_version, host, platform, unfinished)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                submission.runID, seq, submission.pipeline, submission.pipelinePath, submission.projectDirectory,
                submission.fileDigest, submission.params, submission.priority, submission.idempotencyKey,
                submission.failFast, submission.noCache, submission.deterministic, now, submission.blacktailVersion,
                submission.host, submission.platform, submission.tasks.count,
            ]
        )
        try db.run(sql: "INSERT INTO run_plans (run_id, plan) VALUES (?, ?)", arguments: [submission.runID, submission.plan])
        var ids: [String: Int64] = [:]
        var order: [Int64] = []
        let insertTask = try db.cachedStatement(sql: """
            INSERT INTO tasks (run_id, node_id, idx, state, pending, status_functions, priority, run_seq,
                cpu, memory, gpus, labels, retry_attempts, retry_initial, retry_factor, retry_max)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertSpec = try db.cachedStatement(sql: "INSERT INTO task_specs (task_id, spec) VALUES (?, ?)")
        for (index, task) in submission.tasks.enumerated() {
            let state: TaskState = task.needs.isEmpty ? .ready : .waiting
            try insertTask.execute(arguments: [
                submission.runID, task.nodeID, index, state.rawValue, task.needs.count,
                task.usesStatusFunctions, submission.priority, seq,
                task.resources.cpu, task.resources.memoryBytes, task.resources.gpus, task.resources.labels.joined(separator: ","),
                task.retry.attempts, task.retry.initialSeconds, task.retry.factor, task.retry.maximumSeconds,
            ])
            ids[task.nodeID] = db.lastInsertedRowID
            order.append(db.lastInsertedRowID)
            try insertSpec.execute(arguments: [db.lastInsertedRowID, specs[index]])
        }
        let insertNeed = try db.cachedStatement(sql: "INSERT INTO task_needs (task_id, needs_id) VALUES (?, ?)")
        for task in submission.tasks {
            for need in task.needs {
                guard let upstream = ids[need] else {
                    throw EngineError("task \(task.nodeID) needs \(need), which is not in the run")
                }
                try insertNeed.execute(arguments: [ids[task.nodeID]!, upstream])
            }
        }
        return order
    }

    // MARK: Claiming

    public func claim(_ request: ClaimRequest, now: Double) async throws -> [ClaimedTask] {
        let rows = try await write { db in
            try self.expireLeases(now: now, in: db)
            return try self.claim(request, now: now, in: db)
        }
        return try decodeClaims(rows)
    }

    /// A claimed task as read in the transaction; its spec is decoded after it.
    private typealias ClaimRow = (snapshot: TaskSnapshot, spec: String, project: String, noCache: Bool, deterministic: Bool, upstream: [String: UpstreamTask])

    /// Ready tasks in queue order, ?2 at most (?1 is unused).
    private static let readyTasks = """
        SELECT \(snapshotColumns) FROM tasks WHERE state = 'ready' ORDER BY priority DESC, run_seq, idx LIMIT ?2
        """

    /// The ready tasks of run ?1 in file order, ?2 at most: through the index of ready tasks, where a
    /// run's are together (its tasks share its priority and sequence number), not past the run's
    /// tasks that have ended.
    private static let readyTasksOfRun = """
        SELECT \(snapshotColumns) FROM tasks
        WHERE state = 'ready' AND priority = (SELECT priority FROM runs WHERE id = ?1)
            AND run_seq = (SELECT seq FROM runs WHERE id = ?1)
        ORDER BY idx LIMIT ?2
        """

    private func claim(_ request: ClaimRequest, now: Double, in db: Database) throws -> [ClaimRow] {
        guard request.limit > 0 else { return [] }
        // Read the ready tasks in queue order, only as far as it takes to fill the worker; tasks
        // that do not fit (too big, missing a label) are passed over, not waited behind, up to
        // a bound on how many are looked at.
        let scan = max(request.limit * 2, 16) * 16
        var chosen: [TaskSnapshot] = []
        var free = request.free
        try db.scanRows(sql: request.onlyRun == nil ? Self.readyTasks : Self.readyTasksOfRun, arguments: [request.onlyRun, scan]) { row in
            // Only what the choice needs; a task taken is read whole from the same row.
            let candidate = TaskSnapshot(id: row.int64(0), runID: "", nodeID: "", state: .ready, resources: Self.resources(row, from: 11), notBefore: row.double(19))
            if QueueCore.takes(candidate, free: &free, now: now) { chosen.append(snapshot(row)) }
            return chosen.count < request.limit
        }
        var claimed: [ClaimRow] = []
        for task in chosen {
            let leased = QueueCore.claimed(task, by: request.worker, now: now, leaseSeconds: request.leaseSeconds)
            try db.run(
                sql: """
                    UPDATE tasks SET state = 'running', attempt = ?, lease_owner = ?, lease_expires = ?, worker = ?,
                        started_at = COALESCE(started_at, ?), message = NULL
                    WHERE id = ?
                    """,
                arguments: [leased.attempt, request.worker, leased.leaseExpires, request.worker, now, task.id]
            )
            try db.run(
                sql: "INSERT OR REPLACE INTO attempts (task_id, attempt, worker, started_at) VALUES (?, ?, ?, ?)",
                arguments: [task.id, leased.attempt, request.worker, now]
            )
            try db.run(
                sql: "UPDATE runs SET state = 'running', started_at = COALESCE(started_at, ?) WHERE id = ? AND state = 'queued'",
                arguments: [now, task.runID]
            )
            claimed.append(try claimRow(leased, in: db))
        }
        return claimed
    }

    private func decodeClaims(_ rows: [ClaimRow]) throws -> [ClaimedTask] {
        try rows.map { row in
            ClaimedTask(
                snapshot: row.snapshot,
                spec: try spec(row.snapshot.id, row.spec),
                projectDirectory: row.project,
                noCache: row.noCache,
                deterministic: row.deterministic,
                upstream: row.upstream
            )
        }
    }

    public func heartbeat(taskID: Int64, attempt: Int, worker: String, leaseSeconds: Double, now: Double) async throws -> HeartbeatReply {
        try await write { db in
            guard let task = try self.snapshot(id: taskID, in: db) else { return .lost }
            guard QueueCore.acceptsHeartbeat(task, worker: worker, attempt: attempt) else { return .lost }
            try db.run(sql: "UPDATE tasks SET lease_expires = ? WHERE id = ?", arguments: [now + leaseSeconds, taskID])
            try db.run(sql: "UPDATE workers SET heartbeat_at = ? WHERE id = ?", arguments: [now, worker])
            return .extended(cancelRequested: task.cancelRequested)
        }
    }

    public func expireLeases(now: Double) async throws -> Int {
        try await write { db in try self.expireLeases(now: now, in: db) }
    }

    @discardableResult
    private func expireLeases(now: Double, in db: Database) throws -> Int {
        let lapsed = try snapshots(sql: """
            SELECT \(Self.snapshotColumns) FROM tasks WHERE state = 'running' AND lease_expires < ?
            """, arguments: [now], in: db)
        for task in lapsed {
            let next = QueueCore.leaseLapsed(task)
            try db.run(
                sql: "UPDATE attempts SET finished_at = ?, outcome = 'lost', message = ? WHERE task_id = ? AND attempt = ?",
                arguments: [now, "the lease lapsed (worker \(task.leaseOwner ?? "?") stopped sending heartbeats)", task.id, task.attempt]
            )
            try save(next, from: task.state, now: now, in: db)
            if next.state.isFinished {
                try finish(next, now: now, in: db)
            }
        }
        return lapsed.count
    }

    // MARK: Completing

    /// Completions that arrive while a write is in flight are committed together in the next one.
    private let completions = GroupCommit<(completion: Completion, claim: ClaimRequest?, now: Double), [ClaimRow]>()

    public func complete(_ completion: Completion, thenClaim claim: ClaimRequest?, now: Double) async throws -> [ClaimedTask] {
        let rows = try await completions.submit((completion, claim, now)) { batch in
            // A refused completion (a stale attempt) changes nothing and does not stop the
            // others; the claims that come with completions are made after all of them.
            try await self.write { db in
                let rejections: [QueueCore.Rejection?] = try batch.map { item in
                    do {
                        try self.complete(item.completion, now: item.now, in: db)
                        return nil
                    } catch let rejection as QueueCore.Rejection {
                        return rejection
                    }
                }
                return try zip(batch, rejections).map { item, rejection -> Result<[ClaimRow], any Error> in
                    if let rejection { return .failure(rejection) }
                    guard let request = item.claim else { return .success([]) }
                    return .success(try self.claim(request, now: item.now, in: db))
                }
            }
        }
        return try decodeClaims(rows)
    }

    private func complete(_ completion: Completion, now: Double, in db: Database) throws {
        let jitter = Double(Digest.seed(fromHex: Digest.sha256("\(completion.taskID)/\(completion.attempt)")) % 1_000_000) / 1_000_000
        do {
            guard let task = try self.snapshot(id: completion.taskID, in: db) else {
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
            try db.run(
                sql: "UPDATE attempts SET finished_at = ?, outcome = ?, message = ? WHERE task_id = ? AND attempt = ?",
                arguments: [now, outcome, message, completion.taskID, completion.attempt]
            )
            try self.saveArtifacts(completion.inputs, direction: "in", taskID: completion.taskID, in: db)
            var cache: (key: String?, hit: Bool)?
            if case .succeeded(let hit) = completion.outcome {
                cache = (completion.cacheKey, hit)
                try self.saveArtifacts(completion.outputs, direction: "out", taskID: completion.taskID, in: db)
                if let key = completion.cacheKey, !hit {
                    try db.run(
                        sql: "INSERT OR REPLACE INTO cache (key, task_id, created_at) VALUES (?, ?, ?)",
                        arguments: [key, completion.taskID, now]
                    )
                }
            }
            try self.save(next, from: task.state, now: now, cache: cache, in: db)
            if next.state.isFinished {
                try self.finish(next, now: now, in: db)
            }
        }
    }

    private func saveArtifacts(_ artifacts: [ArtifactRecord], direction: String, taskID: Int64, in db: Database) throws {
        guard !artifacts.isEmpty else { return }
        try db.run(sql: "DELETE FROM artifacts WHERE task_id = ? AND direction = ?", arguments: [taskID, direction])
        let statement = try db.cachedStatement(sql: """
            INSERT INTO artifacts (task_id, direction, name, position, type, digest, size, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for artifact in artifacts {
            try statement.execute(arguments: [
                taskID, direction, artifact.name, artifact.position, artifact.type, artifact.digest, artifact.size, artifact.source,
            ])
        }
    }

    /// Writes the columns the queue rules change (and a succeeded attempt's cache key, in the same
    /// statement), and moves the run's counters.
    private func save(_ task: TaskSnapshot, from old: TaskState, now: Double, cache: (key: String?, hit: Bool)? = nil, in db: Database) throws {
        let change = QueueCore.counterChange(from: old, to: task.state)
        if change != (0, 0, 0) {
            try db.run(
                sql: "UPDATE runs SET unfinished = unfinished + ?, failed = failed + ?, cancelled = cancelled + ? WHERE id = ?",
                arguments: [change.unfinished, change.failed, change.cancelled, task.runID]
            )
        }
        var arguments: StatementArguments = [
            task.state.rawValue, task.attempt, task.lostLeases, task.pending, task.upstreamIssue.rawValue, task.notBefore,
            task.leaseOwner, task.leaseExpires, task.cancelRequested, task.message, task.state.isFinished, now,
        ]
        if let cache { arguments += [cache.key, cache.hit] }
        arguments += [task.id]
        try db.run(sql: cache == nil ? Self.saveTask : Self.saveTaskAndCacheKey, arguments: arguments)
    }

    private static let saveTaskColumns = """
        UPDATE tasks SET state = ?, attempt = ?, lost_leases = ?, pending = ?, upstream_issue = ?, not_before = ?,
            lease_owner = ?, lease_expires = ?, cancel_requested = ?, message = ?,
            finished_at = CASE WHEN ? THEN ? ELSE NULL END
        """
    private static let saveTask = saveTaskColumns + " WHERE id = ?"
    private static let saveTaskAndCacheKey = saveTaskColumns + ", cache_key = ?, cache_hit = ? WHERE id = ?"

    /// Passes a finished task's end on to the tasks that need it, transitively, then updates the
    /// run: its state, and with `--fail-fast` a cancellation after a failure.
    private func finish(_ task: TaskSnapshot, now: Double, in db: Database) throws {
        var ended: [TaskSnapshot] = [task]
        while let upstream = ended.popLast() {
            let dependants = try snapshots(sql: """
                SELECT \(Self.snapshotColumns) FROM tasks WHERE id IN (SELECT task_id FROM task_needs WHERE needs_id = ?)
                """, arguments: [upstream.id], in: db)
            for dependant in dependants where dependant.state == .waiting {
                let next = QueueCore.upstreamEnded(dependant, upstream: upstream.state)
                try save(next, from: dependant.state, now: now, in: db)
                if next.state.isFinished { ended.append(next) }
            }
        }
        if task.state == .failed, try db.value(Bool.self, sql: "SELECT fail_fast FROM runs WHERE id = ?", arguments: [task.runID]) ?? false {
            try cancel(runID: task.runID, now: now, in: db)
        }
        try updateRunState(task.runID, now: now, in: db)
    }

    private func updateRunState(_ runID: String, now: Double, in db: Database) throws {
        guard let (state, stored) = try db.firstRow(sql: """
            SELECT unfinished, failed, cancelled, started_at IS NOT NULL, cancel_requested, state FROM runs WHERE id = ?
            """, arguments: [runID], { row in
            (QueueCore.runState(unfinished: row.int(0), failed: row.int(1), cancelled: row.int(2), started: row.bool(3), cancelRequested: row.bool(4)), row.string(5))
        }) else { return }
        // Most reports leave a running run running: nothing to write.
        if state.rawValue == stored, !state.isFinished { return }
        try db.run(
            sql: "UPDATE runs SET state = ?, finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE NULL END WHERE id = ?",
            arguments: [state.rawValue, state.isFinished, now, runID]
        )
    }

    /// Counts the run's tasks afresh, after a change made in bulk.
    private func recount(_ runID: String, in db: Database) throws {
        let counts = try counts(runID: runID, in: db)
        try db.run(
            sql: "UPDATE runs SET unfinished = ?, failed = ?, cancelled = ? WHERE id = ?",
            arguments: [counts.unfinished, counts.failed, counts.cancelled, runID]
        )
    }

    private func counts(runID: String, in db: Database) throws -> TaskCounts {
        var counts = TaskCounts()
        for row in try db.rows(sql: "SELECT state, COUNT(*) FROM tasks WHERE run_id = ? GROUP BY state", arguments: [runID]) {
            if let state = TaskState(rawValue: row[0]) { counts[state] = row[1] }
        }
        return counts
    }

    // MARK: Cancelling and retrying

    public func cancel(runID: String, now: Double) async throws {
        try await write { db in
            guard try db.value(Bool.self, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [runID]) != nil else {
                throw EngineError("no run \(runID)")
            }
            try self.cancel(runID: runID, now: now, in: db)
            try self.updateRunState(runID, now: now, in: db)
        }
    }

    private func cancel(runID: String, now: Double, in db: Database) throws {
        try db.run(sql: "UPDATE runs SET cancel_requested = 1 WHERE id = ?", arguments: [runID])
        try db.run(
            sql: """
                UPDATE tasks SET state = 'cancelled', message = 'cancelled', finished_at = ?
                WHERE run_id = ? AND state IN ('waiting', 'ready')
                """,
            arguments: [now, runID]
        )
        try db.run(sql: "UPDATE tasks SET cancel_requested = 1 WHERE run_id = ? AND state = 'running'", arguments: [runID])
        try recount(runID, in: db)
    }

    public func retry(runID: String, now: Double) async throws {
        try await write { db in
            guard let state = try db.value(String.self, sql: "SELECT state FROM runs WHERE id = ?", arguments: [runID]) else {
                throw EngineError("no run \(runID)")
            }
            guard RunState(rawValue: state)?.isFinished == true else {
                throw EngineError("run \(runID) is \(state); only a finished run can be retried")
            }
            // Every task that did not succeed goes back to waiting on what it needs that did not
            // succeed either; those with nothing left to wait for are ready.
            try db.run(
                sql: """
                    UPDATE tasks SET state = 'waiting', first_attempt = attempt, lost_leases = 0, upstream_issue = 0, not_before = 0,
                        cancel_requested = 0, message = NULL, started_at = NULL, finished_at = NULL, lease_owner = NULL,
                        lease_expires = NULL, progress = NULL
                    WHERE run_id = ? AND state != 'succeeded'
                    """,
                arguments: [runID]
            )
            try db.run(
                sql: """
                    UPDATE tasks SET pending = (
                        SELECT COUNT(*) FROM task_needs n JOIN tasks u ON u.id = n.needs_id
                        WHERE n.task_id = tasks.id AND u.state != 'succeeded')
                    WHERE run_id = ? AND state = 'waiting'
                    """,
                arguments: [runID]
            )
            try db.run(sql: "UPDATE tasks SET state = 'ready' WHERE run_id = ? AND state = 'waiting' AND pending = 0", arguments: [runID])
            try db.run(
                sql: "UPDATE runs SET cancel_requested = 0, state = 'running', finished_at = NULL WHERE id = ?",
                arguments: [runID]
            )
            try self.recount(runID, in: db)
            try self.updateRunState(runID, now: now, in: db)
        }
    }

    public func setProgress(taskID: Int64, attempt: Int, progress: String) async throws {
        try await write { db in
            try db.run(
                sql: "UPDATE tasks SET progress = ? WHERE id = ? AND attempt = ? AND state = 'running'",
                arguments: [progress, taskID, attempt]
            )
        }
    }

    // MARK: Reading

    /// The state and outputs of the tasks a task needs, by node.
    private func upstream(of taskID: Int64, in db: Database) throws -> [String: UpstreamTask] {
        var result: [String: UpstreamTask] = [:]
        try db.forEachRow(sql: """
            SELECT u.node_id, u.state, a.name, a.position, a.type, a.digest, a.size, a.source
            FROM task_needs n JOIN tasks u ON u.id = n.needs_id
            LEFT JOIN artifacts a ON a.task_id = u.id AND a.direction = 'out'
            WHERE n.task_id = ?
            """, arguments: [taskID]) { row in
            let node = row.string(0)
            var task = result[node] ?? UpstreamTask(state: TaskState(rawValue: row.string(1)) ?? .failed, outputs: [:])
            if let name = row.optionalString(2), task.outputs[name] == nil {
                task.outputs[name] = ArtifactRecord(
                    name: name, position: row.int(3), type: row.string(4), digest: row.string(5), size: row.int64(6), source: row.optionalString(7)
                )
            }
            result[node] = task
        }
        return result
    }

    /// What a claim hands over with a task: its spec, its run's settings and its upstream tasks.
    private func claimRow(_ task: TaskSnapshot, in db: Database) throws -> ClaimRow {
        guard let run = try db.firstRow(sql: """
            SELECT s.spec, r.project_dir, r.no_cache, r.deterministic
            FROM tasks t JOIN runs r ON r.id = t.run_id JOIN task_specs s ON s.task_id = t.id WHERE t.id = ?
            """, arguments: [task.id], { row in (spec: row.string(0), project: row.string(1), noCache: row.bool(2), deterministic: row.bool(3)) }) else {
            throw EngineError("task \(task.id) has no spec or run")
        }
        return (task, run.spec, run.project, run.noCache, run.deterministic, try upstream(of: task.id, in: db))
    }

    public func cacheEntry(key: String) async throws -> CacheEntry? {
        // Every task asks this before it runs. A read in WAL mode never waits for a writer, so it
        // runs here, on the calling thread, rather than hopping to a reader's queue and back.
        let readHere: ((Database) throws -> CacheEntry?) throws -> CacheEntry? = pool.read
        return try readHere { db in
            guard let row = try db.row(sql: """
                SELECT t.id, t.run_id, t.node_id, c.created_at FROM cache c JOIN tasks t ON t.id = c.task_id WHERE c.key = ?
                """, arguments: [key]) else { return nil }
            return CacheEntry(
                runID: row[1], nodeID: row[2], createdAt: row[3],
                outputs: try self.artifacts(taskID: row[0], direction: "out", in: db)
            )
        }
    }

    public func runState(_ id: String) async throws -> RunState? {
        try await pool.read { db in
            try db.value(String.self, sql: "SELECT state FROM runs WHERE id = ?", arguments: [id]).flatMap(RunState.init(rawValue:))
        }
    }

    public func run(_ id: String) async throws -> RunRecord? {
        try await pool.read { db in
            var rows = try db.rows(sql: "SELECT * FROM runs WHERE id = ?", arguments: [id])
            if rows.isEmpty {
                rows = try db.rows(sql: "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2", arguments: [id.likePrefixPattern])
                if rows.count > 1 { throw EngineError("'\(id)' matches several runs; give more of the id") }
            }
            return try rows.first.map { try self.runRecord($0, in: db) }
        }
    }

    public func plan(runID: String) async throws -> String? {
        try await pool.read { db in try db.value(String.self, sql: "SELECT plan FROM run_plans WHERE run_id = ?", arguments: [runID]) }
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        try await pool.read { db in
            try db.rows(sql: "SELECT * FROM runs ORDER BY seq DESC LIMIT ?", arguments: [limit]).map { try self.runRecord($0, in: db) }
        }
    }

    public func heldTask(id taskID: Int64, runID: String?) async throws -> ClaimedTask? {
        let row: ClaimRow? = try await pool.read { db in
            guard let task = try self.snapshot(id: taskID, in: db) else { return nil }
            return try self.claimRow(task, in: db)
        }
        return try row.map { try decodeClaims([$0])[0] }
    }

    public func tasks(runID: String) async throws -> [TaskRecord] {
        try await pool.read { db in
            // Every input and output of the run in one query, not two per task.
            var artifacts: [Int64: (inputs: [ArtifactRecord], outputs: [ArtifactRecord])] = [:]
            for row in try db.rows(sql: """
                SELECT a.task_id, a.direction, a.name, a.position, a.type, a.digest, a.size, a.source
                FROM artifacts a JOIN tasks t ON t.id = a.task_id WHERE t.run_id = ? ORDER BY a.task_id, a.name, a.position
                """, arguments: [runID]) {
                let record = ArtifactRecord(name: row[2], position: row[3], type: row[4], digest: row[5], size: row[6], source: row[7])
                if (row[1] as String) == "out" {
                    artifacts[row[0], default: ([], [])].outputs.append(record)
                } else {
                    artifacts[row[0], default: ([], [])].inputs.append(record)
                }
            }
            var records: [TaskRecord] = []
            try db.forEachRow(sql: """
                SELECT \(Self.snapshotColumns), s.spec, idx, worker, started_at, finished_at, cache_key, cache_hit, progress
                FROM tasks JOIN task_specs s ON s.task_id = tasks.id WHERE run_id = ? ORDER BY idx
                """, arguments: [runID]) { row in
                let task = self.snapshot(row)
                let files = artifacts[task.id]
                records.append(TaskRecord(
                    snapshot: task, spec: try self.spec(task.id, row.string(24)), index: row.int(25),
                    worker: row.optionalString(26), startedAt: row.optionalDouble(27), finishedAt: row.optionalDouble(28),
                    cacheKey: row.optionalString(29), cacheHit: row.bool(30), progress: row.optionalString(31),
                    outputs: files?.outputs ?? [], inputs: files?.inputs ?? []
                ))
            }
            return records
        }
    }

    public func taskProgress(runID: String) async throws -> [TaskProgress] {
        try await pool.read { db in
            try db.rows(sql: """
                SELECT node_id, state, attempt, message, started_at, finished_at, cache_hit, progress
                FROM tasks WHERE run_id = ? ORDER BY idx
                """, arguments: [runID]).map { row in
                TaskProgress(
                    nodeID: row[0], state: TaskState(rawValue: row[1]) ?? .failed, attempt: row[2], message: row[3],
                    startedAt: row[4], finishedAt: row[5], cacheHit: row[6], progress: row[7]
                )
            }
        }
    }

    public func attempts(taskID: Int64) async throws -> [AttemptRecord] {
        try await pool.read { db in
            try db.rows(sql: "SELECT * FROM attempts WHERE task_id = ? ORDER BY attempt", arguments: [taskID]).map { row in
                AttemptRecord(
                    attempt: row["attempt"], worker: row["worker"], startedAt: row["started_at"],
                    finishedAt: row["finished_at"], outcome: row["outcome"], message: row["message"]
                )
            }
        }
    }

    public func referencedDigests() async throws -> Set<String> {
        try await pool.read { db in
            Set(try db.values(String.self, sql: "SELECT DISTINCT digest FROM artifacts UNION SELECT digest FROM market_files"))
        }
    }

    // MARK: Workers

    public func registerWorker(_ worker: WorkerRecord, now: Double) async throws {
        let gpus = try json(worker.gpus)
        let labels = try json(worker.labels)
        try await write { db in
            try db.run(
                sql: "INSERT OR REPLACE INTO workers (id, host, pid, cpu, memory, gpus, labels, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [worker.id, worker.host, worker.pid, worker.cpu, worker.memoryBytes, gpus, labels, worker.startedAt, now]
            )
        }
    }

    public func workers() async throws -> [WorkerRecord] {
        try await pool.read { db in try db.rows(sql: "SELECT * FROM workers ORDER BY started_at").map { row in try self.workerRecord(row) } }
    }

    private func workerRecord(_ row: Row) throws -> WorkerRecord {
        WorkerRecord(
            id: row["id"], host: row["host"], pid: row["pid"], cpu: row["cpu"], memoryBytes: row["memory"],
            gpus: try decoder.decode([String].self, from: Data((row["gpus"] as String).utf8)),
            labels: try decoder.decode([String].self, from: Data((row["labels"] as String).utf8)),
            startedAt: row["started_at"], heartbeatAt: row["heartbeat_at"]
        )
    }

    // MARK: Schedules

    public func saveSchedule(_ schedule: ScheduleRecord) async throws {
        let params = try json(schedule.params)
        try await write { db in
            try db.run(
                sql: """
                    INSERT OR REPLACE INTO schedules (name, pipeline_path, project_dir, cron, params, missed, created_at, checked_through)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    schedule.name, schedule.pipelinePath, schedule.projectDirectory, schedule.cron, params,
                    schedule.missed.rawValue, schedule.createdAt, schedule.checkedThrough,
                ]
            )
        }
    }

    public func schedules() async throws -> [ScheduleRecord] {
        try await pool.read { db in try db.rows(sql: "SELECT * FROM schedules ORDER BY name").map { row in try self.scheduleRecord(row) } }
    }

    private func scheduleRecord(_ row: Row) throws -> ScheduleRecord {
        ScheduleRecord(
            name: row["name"], pipelinePath: row["pipeline_path"], projectDirectory: row["project_dir"], cron: row["cron"],
            params: try decoder.decode([String].self, from: Data((row["params"] as String).utf8)),
            missed: ScheduleRecord.MissedTicks(rawValue: row["missed"]) ?? .skip,
            createdAt: row["created_at"], checkedThrough: row["checked_through"]
        )
    }

    public func removeSchedule(name: String) async throws -> Bool {
        try await write { db in
            try db.run(sql: "DELETE FROM schedules WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    public func submitTick(schedule: String, tick: Int64, submission: Submission, now: Double) async throws -> String? {
        let specs = try submission.tasks.map { try String(decoding: encoder.encode($0), as: UTF8.self) }
        return try await write { db in
            try db.run(
                sql: "INSERT OR IGNORE INTO schedule_ticks (schedule, tick, run_id) VALUES (?, ?, ?)",
                arguments: [schedule, tick, submission.runID]
            )
            guard db.changesCount == 1 else { return nil }
            _ = try self.insert(submission, specs: specs, now: now, in: db)
            return submission.runID
        }
    }

    public func markScheduleChecked(name: String, through tick: Int64) async throws {
        try await write { db in
            try db.run(
                sql: "UPDATE schedules SET checked_through = MAX(checked_through, ?) WHERE name = ?",
                arguments: [tick, name]
            )
        }
    }

    /// SQLite's own check of the database file: "ok", or what is wrong.
    public func integrityCheck() throws -> String {
        try pool.read { db in try db.values(String.self, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }

    // MARK: Rows

    private static let snapshotColumns = """
        id, run_id, node_id, state, attempt, first_attempt, lost_leases, pending, upstream_issue, status_functions, priority,
        cpu, memory, gpus, labels, retry_attempts, retry_initial, retry_factor, retry_max,
        not_before, lease_owner, lease_expires, cancel_requested, message
        """

    private let specs = SpecCache()

    private func spec(_ taskID: Int64, _ json: String) throws -> TaskSpec {
        try specs.spec(taskID, json)
    }

    /// A row of ``snapshotColumns``, read by position.
    private func snapshot(_ row: SQLiteColumns) -> TaskSnapshot {
        TaskSnapshot(
            id: row.int64(0),
            runID: row.string(1),
            nodeID: row.string(2),
            state: TaskState(rawValue: row.string(3)) ?? .failed,
            attempt: row.int(4),
            firstAttempt: row.int(5),
            lostLeases: row.int(6),
            pending: row.int(7),
            upstreamIssue: UpstreamIssue(rawValue: row.int(8)) ?? .none,
            usesStatusFunctions: row.bool(9),
            priority: row.int(10),
            resources: Self.resources(row, from: 11),
            retry: RetryPolicySpec(attempts: row.int(15), initialSeconds: row.double(16), factor: row.double(17), maximumSeconds: row.double(18)),
            notBefore: row.double(19),
            leaseOwner: row.optionalString(20),
            leaseExpires: row.optionalDouble(21),
            cancelRequested: row.bool(22),
            message: row.optionalString(23)
        )
    }

    /// The task with this id, or nil.
    private func snapshot(id: Int64, in db: Database) throws -> TaskSnapshot? {
        try db.firstRow(sql: "SELECT \(Self.snapshotColumns) FROM tasks WHERE id = ?", arguments: [id], snapshot)
    }

    /// The tasks a query of ``snapshotColumns`` finds.
    private func snapshots(sql: String, arguments: StatementArguments, in db: Database) throws -> [TaskSnapshot] {
        var tasks: [TaskSnapshot] = []
        try db.forEachRow(sql: sql, arguments: arguments) { tasks.append(snapshot($0)) }
        return tasks
    }

    /// cpu, memory, gpus and labels, from column `first` on.
    private static func resources(_ row: SQLiteColumns, from first: Int32) -> ResourceSpec {
        let labels = row.string(first + 3)
        return ResourceSpec(
            cpu: row.double(first), memoryBytes: row.int64(first + 1), gpus: row.int(first + 2),
            labels: labels.isEmpty ? [] : labels.split(separator: ",").map(String.init)
        )
    }

    private func runRecord(_ row: Row, in db: Database) throws -> RunRecord {
        RunRecord(
            id: row["id"], pipeline: row["pipeline"], pipelinePath: row["pipeline_path"], projectDirectory: row["project_dir"],
            fileDigest: row["file_sha256"], params: row["params"], priority: row["priority"],
            idempotencyKey: row["idempotency_key"], state: RunState(rawValue: row["state"]) ?? .failed,
            failFast: row["fail_fast"], noCache: row["no_cache"], cancelRequested: row["cancel_requested"],
            submittedAt: row["submitted_at"], startedAt: row["started_at"], finishedAt: row["finished_at"],
            blacktailVersion: row["blacktail_version"], host: row["host"], platform: row["platform"],
            counts: try counts(runID: row["id"], in: db)
        )
    }

    private func artifacts(taskID: Int64, direction: String, in db: Database) throws -> [ArtifactRecord] {
        try db.rows(sql: """
            SELECT name, position, type, digest, size, source FROM artifacts WHERE task_id = ? AND direction = ? ORDER BY name, position
            """, arguments: [taskID, direction]).map { row in
            ArtifactRecord(name: row[0], position: row[1], type: row[2], digest: row[3], size: row[4], source: row[5])
        }
    }

    private func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// One IMMEDIATE transaction; SQLite errors become messages that name the store.
    ///
    /// A write that finds no other write of this store under way in this process runs here, on
    /// the calling thread, unless another process holds SQLite's write lock: a hand-off to GRDB's
    /// writer thread and back costs more than the commonest transactions themselves. Any other
    /// write goes to the writer thread, where waiting for the lock holds no thread of Swift's
    /// cooperative pool.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let alone = writesUnderWay.withLock { count in
            count += 1
            return count == 1
        }
        defer { writesUnderWay.withLock { $0 -= 1 } }
        do {
            if alone, let result = try writeHereUnlessLocked(body) { return result }
            return try await pool.write(body)
        } catch let error as DatabaseError {
            throw EngineError("the store failed: \(error.message ?? error.description)")
        }
    }

    /// The transaction on the calling thread, or nil, having done nothing, when another process
    /// holds the write lock. Only for a write that knows the writer connection idle: GRDB's
    /// synchronous access then runs in place instead of waiting for the writer's queue.
    private func writeHereUnlessLocked<T>(_ body: (Database) throws -> T) throws -> T? {
        let writeHere: ((Database) throws -> T?) throws -> T? = pool.writeWithoutTransaction
        return try writeHere { db in
            // Ask for the lock without waiting; whatever happens, leave the timeout as it was.
            // (Statements prepared once: GRDB's `beginTransaction` and `commit` parse theirs
            // each time.)
            sqlite3_busy_timeout(db.sqliteConnection, 0)
            let begun = Result { try db.run(sql: "BEGIN IMMEDIATE TRANSACTION") }
            sqlite3_busy_timeout(db.sqliteConnection, Int32(busyTimeoutMilliseconds))
            switch begun {
            case .success: break
            case .failure(let error as DatabaseError) where error.resultCode == .SQLITE_BUSY: return nil
            case .failure(let error): throw error
            }
            do {
                let result = try body(db)
                try db.run(sql: "COMMIT TRANSACTION")
                return result
            } catch {
                try? db.rollback()
                throw error
            }
        }
    }
}

/// Statements prepared once per connection and reused: the queue's hot paths run the same few
/// statements thousands of times.
extension Database {
    func run(sql: String, arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func rows(sql: String, arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }

    func row(sql: String, arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func value<T: DatabaseValueConvertible & StatementColumnConvertible>(_ type: T.Type, sql: String, arguments: StatementArguments = []) throws -> T? {
        try T.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func values<T: DatabaseValueConvertible & StatementColumnConvertible>(_ type: T.Type, sql: String, arguments: StatementArguments = []) throws -> [T] {
        try T.fetchAll(cachedStatement(sql: sql), arguments: arguments)
    }
}
