import Foundation
import PostgresNIO

extension PostgresStore {
    static let schemaV2 = [
        """
        CREATE TABLE nodes (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            state TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at DOUBLE PRECISION NOT NULL
        )
        """,
        "CREATE INDEX tasks_by_worker ON tasks (worker, state)",
    ]

    /// As the SQLite store's `v5`: the index by worker moved at every change of a task's state; a
    /// node's running tasks are counted from the running tasks (`tasks_running`) instead.
    static let schemaV3 = [
        "DROP INDEX tasks_by_worker",
    ]

    public func addNode(name: String, role: NodeRecord.Role, tokenSHA256: String, now: Double) async throws {
        try NodeToken.validate(name: name)
        try await change { db in
            guard try await db.value(String.self, """
                INSERT INTO nodes (name, role, state, token_sha256, created_at) VALUES (\(name), \(role.rawValue), 'active', \(tokenSHA256), \(now))
                ON CONFLICT DO NOTHING RETURNING name
                """) != nil else {
                throw EngineError("there is already a node named '\(name)' (remove it first to issue a new token)")
            }
        }
    }

    public func node(tokenSHA256: String) async throws -> NodeRecord? {
        try await read { db in
            guard let row = try await db.row("SELECT name, role, state, created_at FROM nodes WHERE token_sha256 = \(tokenSHA256)") else {
                return nil
            }
            return NodeRecord(
                name: try row.get(0), role: NodeRecord.Role(rawValue: try row.get(1)) ?? .client,
                state: NodeRecord.State(rawValue: try row.get(2)) ?? .draining, createdAt: try row.get(3)
            )
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await read { db in
            try await db.rows("""
                SELECT n.name, n.role, n.state, n.created_at, w.gpus, w.heartbeat_at, COALESCE(r.running, 0)
                FROM nodes n
                LEFT JOIN workers w ON w.id = n.name
                LEFT JOIN (SELECT worker, COUNT(*) AS running FROM tasks WHERE state = 'running' GROUP BY worker) r ON r.worker = n.name
                ORDER BY n.name
                """).map { row in
                let gpus = try row.get(4, as: String?.self)
                return NodeRecord(
                    name: try row.get(0), role: NodeRecord.Role(rawValue: try row.get(1)) ?? .client,
                    state: NodeRecord.State(rawValue: try row.get(2)) ?? .draining, createdAt: try row.get(3),
                    gpus: try gpus.map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [],
                    heartbeatAt: try row.get(5), runningTasks: Int(try row.get(6, as: Int64.self))
                )
            }
        }
    }

    public func setNodeState(name: String, state: NodeRecord.State) async throws -> Bool {
        try await change { db in
            try await db.value(String.self, "UPDATE nodes SET state = \(state.rawValue) WHERE name = \(name) RETURNING name") != nil
        }
    }

    public func removeNode(name: String) async throws -> Bool {
        try await change { db in
            try await db.value(String.self, "DELETE FROM nodes WHERE name = \(name) RETURNING name") != nil
        }
    }
}
