import PostgresNIO

extension PostgresStore {
    /// The tasks and runs one change has read, and the writes it has decided, held in memory.
    ///
    /// The rules of ``QueueCore`` apply to these values one report after another, exactly as they
    /// would to the rows, and ``PostgresStore/write(_:in:)`` then sends all the writes in one
    /// statement: a batch of completions costs a few round trips to the server, not several per
    /// task. It does no I/O itself. A statement that changes rows in bulk (cancelling a run) must
    /// come after the writes are sent, and the values read before it be forgotten.
    final class ChangeSet {
        /// The columns of a run that the rules read and write.
        struct Run {
            var unfinished: Int
            var failed: Int
            var cancelled: Int
            var started: Bool
            var cancelRequested: Bool
            var failFast: Bool
            var state: RunState
            var finishedAt: Double?
        }

        /// What is written of a saved task besides its snapshot as saved last (in ``tasks``).
        struct SavedTask {
            var finishedAt: Double?
            /// The cache key and whether it was a hit, when a success set them.
            var cache: (key: String?, hit: Bool)?
        }

        struct EndedAttempt {
            var finishedAt: Double
            var outcome: String
            var message: String?
        }

        struct AttemptKey: Hashable {
            var taskID: Int64
            var attempt: Int
        }

        struct ArtifactsKey: Hashable {
            var taskID: Int64
            var direction: String
        }

        /// Tasks as read, with what this change did to them since.
        private(set) var tasks: [Int64: TaskSnapshot] = [:]
        /// The ids of the tasks that need a task, for the tasks whose dependants were read.
        private(set) var dependants: [Int64: [Int64]] = [:]
        private(set) var runs: [String: Run] = [:]

        private(set) var savedTasks: [Int64: SavedTask] = [:]
        private(set) var changedRuns: Set<String> = []
        private(set) var endedAttempts: [AttemptKey: EndedAttempt] = [:]
        /// The artifacts that replace a task's inputs or outputs.
        private(set) var artifacts: [ArtifactsKey: [ArtifactRecord]] = [:]
        /// Cache entries by key: the task that made them and when.
        private(set) var cacheEntries: [String: (taskID: Int64, createdAt: Double)] = [:]

        var hasWrites: Bool {
            !savedTasks.isEmpty || !changedRuns.isEmpty || !endedAttempts.isEmpty || !artifacts.isEmpty || !cacheEntries.isEmpty
        }

        // MARK: Reading

        /// Keeps a task as read, unless this change holds it already (its values are newer).
        func remember(_ task: TaskSnapshot) {
            if tasks[task.id] == nil { tasks[task.id] = task }
        }

        /// Keeps a run as read, unless this change holds it already.
        func remember(_ run: Run, id: String) {
            if runs[id] == nil { runs[id] = run }
        }

        func remember(dependants ids: [Int64], of taskID: Int64) {
            dependants[taskID] = ids
        }

        /// Drops everything read, after the writes were sent and a bulk statement changed rows.
        func forget() {
            precondition(!hasWrites, "the writes must be sent before what was read is forgotten")
            tasks = [:]
            dependants = [:]
            runs = [:]
        }

        // MARK: Changing

        /// Records a task's new state (the columns ``QueueCore`` decides) and its finishing time.
        func save(_ task: TaskSnapshot, finishedAt: Double?) {
            tasks[task.id] = task
            savedTasks[task.id, default: SavedTask()].finishedAt = finishedAt
        }

        /// Records the cache key of a task this change saved, and whether it was a hit.
        func setCache(taskID: Int64, key: String?, hit: Bool) {
            precondition(savedTasks[taskID] != nil, "only a saved task's cache columns are written")
            savedTasks[taskID]?.cache = (key, hit)
        }

        func addCacheEntry(key: String, taskID: Int64, createdAt: Double) {
            cacheEntries[key] = (taskID, createdAt)
        }

        func change(run id: String, _ body: (inout Run) -> Void) {
            guard var run = runs[id] else { preconditionFailure("run \(id) was not read") }
            body(&run)
            runs[id] = run
            changedRuns.insert(id)
        }

        func endAttempt(taskID: Int64, attempt: Int, _ ended: EndedAttempt) {
            endedAttempts[AttemptKey(taskID: taskID, attempt: attempt)] = ended
        }

        func replaceArtifacts(_ records: [ArtifactRecord], direction: String, taskID: Int64) {
            artifacts[ArtifactsKey(taskID: taskID, direction: direction)] = records
        }

        /// Clears the pending writes once they are sent; what was read stays, as written.
        func written() {
            savedTasks = [:]
            changedRuns = []
            endedAttempts = [:]
            artifacts = [:]
            cacheEntries = [:]
        }
    }

    // MARK: Reading into a change set

    /// Reads tasks, their runs and the tasks that need them, in one statement.
    func load(_ ids: [Int64], into changes: ChangeSet, in db: Connection) async throws {
        let ids = Array(Set(ids)).sorted()
        guard !ids.isEmpty else { return }
        let rows = try await db.rows(TasksToChange(ids: ids))
        var dependants: [Int64: [Int64]] = Dictionary(uniqueKeysWithValues: ids.map { ($0, []) })
        for row in rows {
            let task = try remember(row, in: changes)
            if let upstream = try row.get(Self.snapshotColumnCount + Self.changeSetRunColumnCount, as: Int64?.self) {
                dependants[upstream, default: []].append(task.id)
            }
        }
        for (upstream, ids) in dependants { changes.remember(dependants: ids, of: upstream) }
    }

    /// A task as this change has it, read if it has not been.
    func task(_ id: Int64, in changes: ChangeSet, db: Connection) async throws -> TaskSnapshot? {
        if let task = changes.tasks[id] { return task }
        guard let row = try await db.row("""
            SELECT \(unescaped: Self.taskColumns), \(unescaped: Self.changeSetRunColumns) FROM tasks t JOIN runs r ON r.id = t.run_id WHERE t.id = \(id)
            """) else { return nil }
        return try remember(row, in: changes)
    }

    /// The tasks that need a task, as this change has them, in the order of their ids.
    func dependants(of id: Int64, in changes: ChangeSet, db: Connection) async throws -> [TaskSnapshot] {
        if changes.dependants[id] == nil {
            let rows = try await db.rows("""
                SELECT \(unescaped: Self.taskColumns), \(unescaped: Self.changeSetRunColumns)
                FROM task_needs n JOIN tasks t ON t.id = n.task_id JOIN runs r ON r.id = t.run_id WHERE n.needs_id = \(id) ORDER BY t.id
                """)
            changes.remember(dependants: try rows.map { try remember($0, in: changes).id }, of: id)
        }
        return changes.dependants[id, default: []].compactMap { changes.tasks[$0] }
    }

    /// A run as this change has it, read if it has not been.
    func run(_ id: String, in changes: ChangeSet, db: Connection) async throws -> ChangeSet.Run? {
        if let run = changes.runs[id] { return run }
        guard let row = try await db.row("SELECT \(unescaped: Self.changeSetRunColumns) FROM runs r WHERE r.id = \(id)") else { return nil }
        let run = try Self.changeSetRun(row, from: 0)
        changes.remember(run, id: id)
        return run
    }

    /// Keeps a row of task and run columns in the change set; the task as the change has it.
    private func remember(_ row: PostgresRandomAccessRow, in changes: ChangeSet) throws -> TaskSnapshot {
        let task = try snapshot(row)
        changes.remember(task)
        changes.remember(try Self.changeSetRun(row, from: Self.snapshotColumnCount), id: task.runID)
        return changes.tasks[task.id] ?? task
    }

    private static func changeSetRun(_ row: PostgresRandomAccessRow, from first: Int) throws -> ChangeSet.Run {
        ChangeSet.Run(
            unfinished: try row.get(first), failed: try row.get(first + 1), cancelled: try row.get(first + 2),
            started: try row.get(first + 3), cancelRequested: try row.get(first + 4), failFast: try row.get(first + 5),
            state: RunState(rawValue: try row.get(first + 6)) ?? .failed, finishedAt: try row.get(first + 7)
        )
    }

    // MARK: Writing a change set

    /// Sends a change set's writes, in one statement.
    func write(_ changes: ChangeSet, in db: Connection) async throws {
        guard changes.hasWrites else { return }
        if changes.artifacts.isEmpty, changes.cacheEntries.isEmpty {
            try await db.run(ChangeSetWrites(changes))
        } else {
            try await db.run(ChangeSetWritesWithFiles(changes))
        }
        changes.written()
    }
}
