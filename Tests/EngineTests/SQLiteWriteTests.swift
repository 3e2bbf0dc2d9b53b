import Engine
import Foundation
import GRDB
import Synchronization
import Testing

/// Writes while another connection (as another process would) holds SQLite's write lock: they
/// wait for it, and none fails for finding the lock taken.
@Suite struct SQLiteWriteTests {
    @Test func aWriteWaitsForAnotherConnectionsLockAndThenSucceeds() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        var configuration = Configuration()
        // The other connection's transaction stays open between calls, as another process's would.
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: bench.workspace.storePath, configuration: configuration)
        for round in 0..<2 {
            try other.inDatabase { try $0.execute(sql: "BEGIN IMMEDIATE") }
            let done = Mutex(false)
            let writer = Task {
                let runID = try await bench.submit("version: 1\nname: waits\(round)\nsteps:\n  a: { run: 'true' }\n")
                done.withLock { $0 = true }
                return runID
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(done.withLock { !$0 }, "round \(round): the write went through while another connection held the lock")
            try other.inDatabase { try $0.execute(sql: "COMMIT") }
            let runID = try await writer.value
            #expect(try await bench.store.runState(runID) == .queued)
        }
    }
}
