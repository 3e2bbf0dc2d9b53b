import Foundation
import GRDB

extension SQLiteStore {
    static func createNodeTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE nodes (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                state TEXT NOT NULL,
                token_sha256 TEXT NOT NULL UNIQUE,
                created_at REAL NOT NULL
            );
            CREATE INDEX tasks_by_worker ON tasks (worker, state);
            """)
    }

    public func addNode(name: String, role: NodeRecord.Role, tokenSHA256: String, now: Double) async throws {
        try NodeToken.validate(name: name)
        try await write { db in
            if try db.value(String.self, sql: "SELECT name FROM nodes WHERE name = ?", arguments: [name]) != nil {
                throw EngineError("there is already a node named '\(name)' (remove it first to issue a new token)")
            }
            try db.run(
                sql: "INSERT INTO nodes (name, role, state, token_sha256, created_at) VALUES (?, ?, 'active', ?, ?)",
                arguments: [name, role.rawValue, tokenSHA256, now]
            )
        }
    }

    public func node(tokenSHA256: String) async throws -> NodeRecord? {
        try await pool.read { db in
            try db.rows(sql: "SELECT name, role, state, created_at FROM nodes WHERE token_sha256 = ?", arguments: [tokenSHA256])
                .first.map { row in
                    NodeRecord(
                        name: row[0], role: NodeRecord.Role(rawValue: row[1]) ?? .client,
                        state: NodeRecord.State(rawValue: row[2]) ?? .draining, createdAt: row[3]
                    )
                }
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await pool.read { db in
            try db.rows(sql: """
                SELECT n.name, n.role, n.state, n.created_at, w.gpus, w.heartbeat_at, COALESCE(r.running, 0)
                FROM nodes n
                LEFT JOIN workers w ON w.id = n.name
                LEFT JOIN (SELECT worker, COUNT(*) AS running FROM tasks WHERE state = 'running' GROUP BY worker) r ON r.worker = n.name
                ORDER BY n.name
                """).map { row in
                let gpus: String? = row[4]
                return NodeRecord(
                    name: row[0], role: NodeRecord.Role(rawValue: row[1]) ?? .client,
                    state: NodeRecord.State(rawValue: row[2]) ?? .draining, createdAt: row[3],
                    gpus: try gpus.map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? [],
                    heartbeatAt: row[5], runningTasks: row[6]
                )
            }
        }
    }

    public func setNodeState(name: String, state: NodeRecord.State) async throws -> Bool {
        try await write { db in
            try db.run(sql: "UPDATE nodes SET state = ? WHERE name = ?", arguments: [state.rawValue, name])
            return db.changesCount > 0
        }
    }

    public func removeNode(name: String) async throws -> Bool {
        try await write { db in
            try db.run(sql: "DELETE FROM nodes WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }
}
