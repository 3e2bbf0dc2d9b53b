@testable import Engine
import Foundation
import GRDB
import Testing

/// A store made by an earlier schema opens with what it holds intact.
@Suite struct SQLiteMigrationTests {
    @Test func theCacheKeepsItsEntriesWhenItLosesItsRowids() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let path = "\(bench.folder)/old.sqlite"
        do {
            let pool = try DatabasePool(path: path)
            try SQLiteStore.migrator.migrate(pool, upTo: "v3")
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO cache (key, task_id, created_at) VALUES ('k1', 7, 1.5), ('k2', 8, 2.5)")
            }
            try pool.close()
        }
        let store = try SQLiteStore(path: path)
        let (rows, hasRowid, indexes) = try await store.pool.read { db in
            (
                try Row.fetchAll(db, sql: "SELECT key, task_id, created_at FROM cache ORDER BY key").map { [$0[0] as String, "\($0[1] as Int64)", "\($0[2] as Double)"] },
                (try? Row.fetchOne(db, sql: "SELECT rowid FROM cache")) != nil,
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' ORDER BY name")
            )
        }
        #expect(rows == [["k1", "7", "1.5"], ["k2", "8", "2.5"]])
        #expect(!hasRowid)
        // v4 indexed only running tasks by worker; v5 drops that index too.
        #expect(indexes.filter { !$0.hasPrefix("sqlite_autoindex") } == ["tasks_by_run", "tasks_ready", "tasks_running"])
    }
}
