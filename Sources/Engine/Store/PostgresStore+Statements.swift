import PostgresNIO

/// A statement that claims and completions run many times, prepared once per connection: the
/// server then parses and plans it once, which for these statements costs more than running them.
/// Its SQL takes its values as `$1`, `$2`, ..., bound in that order by its initializer.
protocol StoreStatement: PostgresPreparedStatement where Row == PostgresRandomAccessRow {
    var bindings: PostgresBindings { get }
}

extension StoreStatement {
    func makeBindings() -> PostgresBindings { bindings }

    func decodeRow(_ row: PostgresRow) -> PostgresRandomAccessRow { row.makeRandomAccess() }

    /// Bindings of the values for `$1`, `$2`, ... in order.
    static func bind(_ values: any PostgresDynamicTypeEncodable...) -> PostgresBindings {
        bind(values)
    }

    static func bind(_ values: [any PostgresDynamicTypeEncodable]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return bindings
    }
}

extension PostgresStore.Connection {
    func rows<Statement: StoreStatement>(_ statement: Statement) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
        return rows
    }

    func run<Statement: StoreStatement>(_ statement: Statement) async throws {
        _ = try await rows(statement)
    }
}

extension PostgresStore {
    /// Takes the lock that orders changes, until the transaction ends.
    struct ChangeLock: StoreStatement {
        static let name = "blacktail_change_lock"
        static let sql = "SELECT pg_advisory_xact_lock($1)"
        let bindings: PostgresBindings

        init(key: Int64) {
            bindings = Self.bind(key)
        }
    }

    // MARK: Claiming

    /// Running tasks whose lease lapsed before `$1`.
    struct LapsedLeases: StoreStatement {
        static let name = "blacktail_lapsed_leases"
        static let sql = "SELECT \(PostgresStore.snapshotColumns) FROM tasks WHERE state = 'running' AND lease_expires < $1"
        let bindings: PostgresBindings

        init(now: Double) {
            bindings = Self.bind(now)
        }
    }

    /// Ready tasks in queue order, locked, with what choosing them needs; on each row, whether a
    /// running task's lease lapsed before `lapsedBefore` (false without it).
    struct ReadyTasks: StoreStatement {
        static let name = "blacktail_ready_tasks"
        static let sql = """
            SELECT id, run_id, attempt, cpu, memory, gpus, labels, not_before,
                $3 AND EXISTS (SELECT 1 FROM tasks l WHERE l.state = 'running' AND l.lease_expires < $4)
            FROM tasks WHERE state = 'ready' ORDER BY priority DESC, run_seq, idx LIMIT $1 OFFSET $2 FOR UPDATE SKIP LOCKED
            """
        let bindings: PostgresBindings

        init(limit: Int, offset: Int, lapsedBefore: Double?) {
            bindings = Self.bind(limit, offset, lapsedBefore != nil, lapsedBefore ?? 0)
        }
    }

    /// The same, of one run: through the index of ready tasks, where a run's are together (its
    /// tasks share its priority and sequence number), not past the run's tasks that have ended.
    struct ReadyTasksOfRun: StoreStatement {
        static let name = "blacktail_ready_tasks_of_run"
        static let sql = """
            SELECT id, run_id, attempt, cpu, memory, gpus, labels, not_before,
                $4 AND EXISTS (SELECT 1 FROM tasks l WHERE l.state = 'running' AND l.lease_expires < $5)
            FROM tasks
            WHERE state = 'ready' AND priority = (SELECT priority FROM runs WHERE id = $1)
                AND run_seq = (SELECT seq FROM runs WHERE id = $1)
            ORDER BY idx LIMIT $2 OFFSET $3 FOR UPDATE SKIP LOCKED
            """
        let bindings: PostgresBindings

        init(runID: String, limit: Int, offset: Int, lapsedBefore: Double?) {
            bindings = Self.bind(runID, limit, offset, lapsedBefore != nil, lapsedBefore ?? 0)
        }
    }

    /// Leases tasks: each running under its worker's lease, its attempt recorded, and each run
    /// started that was queued. Returns the tasks whole as they were before, with their specs,
    /// what their runs say of running them, and whether they need other tasks.
    struct Leases: StoreStatement {
        static let name = "blacktail_leases"
        static let sql = """
            WITH leased AS (
                UPDATE tasks t SET state = 'running', attempt = v.attempt, lease_owner = v.worker, lease_expires = v.lease_expires,
                    worker = v.worker, started_at = COALESCE(t.started_at, v.now), message = NULL
                FROM unnest($1::BIGINT[], $2::BIGINT[], $3::DOUBLE PRECISION[], $4::TEXT[], $5::DOUBLE PRECISION[])
                    AS v(id, attempt, lease_expires, worker, now)
                WHERE t.id = v.id
            ), attempts AS (
                INSERT INTO attempts (task_id, attempt, worker, started_at)
                SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $4::TEXT[], $5::DOUBLE PRECISION[])
                ON CONFLICT (task_id, attempt) DO UPDATE SET worker = EXCLUDED.worker, started_at = EXCLUDED.started_at,
                    finished_at = NULL, outcome = NULL, message = NULL
            ), started AS (
                UPDATE runs r SET state = 'running', started_at = COALESCE(r.started_at, v.now)
                FROM unnest($6::TEXT[], $7::DOUBLE PRECISION[]) AS v(id, now)
                WHERE r.id = v.id AND r.state = 'queued'
            )
            SELECT \(PostgresStore.taskColumns), s.spec, r.project_dir, r.no_cache, r.deterministic,
                EXISTS (SELECT 1 FROM task_needs n WHERE n.task_id = t.id)
            FROM tasks t JOIN task_specs s ON s.task_id = t.id JOIN runs r ON r.id = t.run_id WHERE t.id = ANY($1::BIGINT[])
            """
        let bindings: PostgresBindings

        /// - Parameters:
        ///   - tasks: the tasks as the rules leased them, with the worker and time of each claim.
        ///   - startedRuns: each run the leases start, with the time of the first claim of it.
        init(tasks: [(task: TaskSnapshot, worker: String, now: Double)], startedRuns: [(id: String, now: Double)]) {
            bindings = Self.bind(
                tasks.map(\.task.id), tasks.map(\.task.attempt), NullableArray(tasks.map(\.task.leaseExpires)),
                tasks.map(\.worker), tasks.map(\.now), startedRuns.map(\.id), startedRuns.map(\.now)
            )
        }
    }

    /// The tasks that claimed tasks need: the claimed task's id, then the needed task's node,
    /// state and outputs, one row per output.
    struct UpstreamTasks: StoreStatement {
        static let name = "blacktail_upstream_tasks"
        static let sql = """
            SELECT n.task_id, u.node_id, u.state, a.name, a.position, a.type, a.digest, a.size, a.source
            FROM task_needs n JOIN tasks u ON u.id = n.needs_id
            LEFT JOIN artifacts a ON a.task_id = u.id AND a.direction = 'out'
            WHERE n.task_id = ANY($1)
            ORDER BY n.task_id, u.node_id, a.name, a.position
            """
        let bindings: PostgresBindings

        init(ids: [Int64]) {
            bindings = Self.bind(ids)
        }
    }

    // MARK: Changing

    /// The columns of a run that ``ChangeSet/Run`` holds, of `runs r`.
    static let changeSetRunColumns = """
        r.unfinished, r.failed, r.cancelled, r.started_at IS NOT NULL, r.cancel_requested, r.fail_fast, r.state, r.finished_at
        """
    static let changeSetRunColumnCount = 8

    /// Tasks with their runs, then the tasks that need them with theirs: task columns, run
    /// columns, and the id of the task needed (NULL for the tasks asked for).
    struct TasksToChange: StoreStatement {
        static let name = "blacktail_tasks_to_change"
        static let sql = """
            SELECT \(PostgresStore.taskColumns), \(PostgresStore.changeSetRunColumns), NULL::BIGINT
            FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.id = ANY($1)
            UNION ALL
            SELECT \(PostgresStore.taskColumns), \(PostgresStore.changeSetRunColumns), n.needs_id
            FROM task_needs n JOIN tasks t ON t.id = n.task_id JOIN runs r ON r.id = t.run_id WHERE n.needs_id = ANY($1)
            ORDER BY 1
            """
        let bindings: PostgresBindings

        init(ids: [Int64]) {
            bindings = Self.bind(ids)
        }
    }

    /// The writes of a change set, in one statement: the attempts that ended, the tasks saved and
    /// the runs changed. A part whose arrays are empty changes nothing.
    struct ChangeSetWrites: StoreStatement {
        static let name = "blacktail_change_set_writes"
        static let sql = "WITH \(endedAttempts), \(savedTasks)\n\(changedRuns)"
        let bindings: PostgresBindings

        init(_ changes: ChangeSet) {
            bindings = Self.bind(Self.values(changes))
        }

        // `a.task_id = ANY($1)` keeps the attempts read through their index: a plan made while
        // the table is small (the statement is planned once per connection) would scan it whole.
        static let endedAttempts = """
            ended_attempts AS (
                UPDATE attempts a SET finished_at = v.finished_at, outcome = v.outcome, message = v.message
                FROM unnest($1::BIGINT[], $2::BIGINT[], $3::DOUBLE PRECISION[], $4::TEXT[], $5::TEXT[])
                    AS v(task_id, attempt, finished_at, outcome, message)
                WHERE a.task_id = ANY($1::BIGINT[]) AND a.task_id = v.task_id AND a.attempt = v.attempt
            )
            """
        static let savedTasks = """
            saved_tasks AS (
                UPDATE tasks t SET state = v.state, attempt = v.attempt, lost_leases = v.lost_leases, pending = v.pending,
                    upstream_issue = v.upstream_issue, not_before = v.not_before, lease_owner = v.lease_owner,
                    lease_expires = v.lease_expires, cancel_requested = v.cancel_requested, message = v.message,
                    finished_at = v.finished_at,
                    cache_key = CASE WHEN v.sets_cache THEN v.cache_key ELSE t.cache_key END,
                    cache_hit = CASE WHEN v.sets_cache THEN v.cache_hit ELSE t.cache_hit END
                FROM unnest($6::BIGINT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[],
                    $12::DOUBLE PRECISION[], $13::TEXT[], $14::DOUBLE PRECISION[], $15::BOOLEAN[], $16::TEXT[],
                    $17::DOUBLE PRECISION[], $18::BOOLEAN[], $19::TEXT[], $20::BOOLEAN[])
                    AS v(id, state, attempt, lost_leases, pending, upstream_issue, not_before, lease_owner, lease_expires,
                        cancel_requested, message, finished_at, sets_cache, cache_key, cache_hit)
                WHERE t.id = v.id
            )
            """
        static let changedRuns = """
            UPDATE runs r SET unfinished = v.unfinished, failed = v.failed, cancelled = v.cancelled, state = v.state,
                finished_at = v.finished_at
            FROM unnest($21::TEXT[], $22::BIGINT[], $23::BIGINT[], $24::BIGINT[], $25::TEXT[], $26::DOUBLE PRECISION[])
                AS v(id, unfinished, failed, cancelled, state, finished_at)
            WHERE r.id = v.id
            """

        /// The values for `$1` to `$26`.
        static func values(_ changes: ChangeSet) -> [any PostgresDynamicTypeEncodable] {
            let ended = Array(changes.endedAttempts)
            let saved = changes.savedTasks.compactMap { id, saved in changes.tasks[id].map { (task: $0, saved: saved) } }
            let tasks = saved.map(\.task)
            let runs = changes.changedRuns.compactMap { id in changes.runs[id].map { (id: id, run: $0) } }
            return [
                // ended_attempts: $1 to $5
                ended.map(\.key.taskID), ended.map(\.key.attempt), ended.map(\.value.finishedAt), ended.map(\.value.outcome),
                NullableArray(ended.map(\.value.message)),
                // saved_tasks: $6 to $20
                tasks.map(\.id), tasks.map(\.state.rawValue), tasks.map(\.attempt), tasks.map(\.lostLeases), tasks.map(\.pending),
                tasks.map(\.upstreamIssue.rawValue), tasks.map(\.notBefore), NullableArray(tasks.map(\.leaseOwner)),
                NullableArray(tasks.map(\.leaseExpires)), tasks.map(\.cancelRequested), NullableArray(tasks.map(\.message)),
                NullableArray(saved.map(\.saved.finishedAt)), saved.map { $0.saved.cache != nil },
                NullableArray(saved.map { $0.saved.cache?.key }), saved.map { $0.saved.cache?.hit ?? false },
                // runs: $21 to $26
                runs.map(\.id), runs.map(\.run.unfinished), runs.map(\.run.failed), runs.map(\.run.cancelled),
                runs.map(\.run.state.rawValue), NullableArray(runs.map(\.run.finishedAt)),
            ]
        }
    }

    /// The same with the artifacts and cache entries of a change set, for a change that has any.
    struct ChangeSetWritesWithFiles: StoreStatement {
        static let name = "blacktail_change_set_writes_with_files"
        static let sql = """
            WITH \(ChangeSetWrites.endedAttempts), \(ChangeSetWrites.savedTasks), new_artifacts AS (
                SELECT * FROM unnest($27::BIGINT[], $28::TEXT[], $29::TEXT[], $30::BIGINT[], $31::TEXT[], $32::TEXT[], $33::BIGINT[], $34::TEXT[])
                    AS v(task_id, direction, name, position, type, digest, size, source)
            ), removed_artifacts AS (
                -- Of a replaced list, the rows the new list does not have; the rows it has are
                -- updated in place below, so that no two parts of the statement touch one row.
                DELETE FROM artifacts a USING unnest($35::BIGINT[], $36::TEXT[]) AS r(task_id, direction)
                WHERE a.task_id = r.task_id AND a.direction = r.direction AND NOT EXISTS (
                    SELECT 1 FROM new_artifacts n
                    WHERE n.task_id = a.task_id AND n.direction = a.direction AND n.name = a.name AND n.position = a.position)
            ), written_artifacts AS (
                INSERT INTO artifacts (task_id, direction, name, position, type, digest, size, source)
                SELECT * FROM new_artifacts
                ON CONFLICT (task_id, direction, name, position) DO UPDATE SET type = EXCLUDED.type, digest = EXCLUDED.digest,
                    size = EXCLUDED.size, source = EXCLUDED.source
            ), cache_entries AS (
                INSERT INTO cache (key, task_id, created_at)
                SELECT * FROM unnest($37::TEXT[], $38::BIGINT[], $39::DOUBLE PRECISION[])
                ON CONFLICT (key) DO UPDATE SET task_id = EXCLUDED.task_id, created_at = EXCLUDED.created_at
            )
            \(ChangeSetWrites.changedRuns)
            """
        let bindings: PostgresBindings

        init(_ changes: ChangeSet) {
            let replaced = Array(changes.artifacts.keys)
            let artifacts = changes.artifacts.flatMap { key, records in records.map { (key: key, record: $0) } }
            let entries = Array(changes.cacheEntries)
            bindings = Self.bind(ChangeSetWrites.values(changes) + [
                // new_artifacts: $27 to $34
                artifacts.map(\.key.taskID), artifacts.map(\.key.direction), artifacts.map(\.record.name), artifacts.map(\.record.position),
                artifacts.map(\.record.type), artifacts.map(\.record.digest), artifacts.map(\.record.size),
                NullableArray(artifacts.map(\.record.source)),
                // removed_artifacts: $35, $36
                replaced.map(\.taskID), replaced.map(\.direction),
                // cache_entries: $37 to $39
                entries.map(\.key), entries.map(\.value.taskID), entries.map(\.value.createdAt),
            ])
        }
    }
}

/// An array parameter whose elements may be NULL, which postgres-nio's own arrays cannot hold.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable & Sendable>: PostgresNonThrowingEncodable, Sendable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // PostgreSQL's binary array: dimensions, a has-NULLs flag, the element type, the length and
        // lower bound of the one dimension, then each element after its length (-1 for NULL).
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex)
        }
    }
}
