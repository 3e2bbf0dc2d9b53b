@testable import Engine
import Foundation
import GRDB
import Synchronization
import Testing

/// Writes while another connection (as another process would) holds SQLite's write lock: they
/// wait for it, however they were started, and none fails for finding the lock taken.
@Suite struct SQLiteWriteTests {
    @Test func aWriteWaitsForAnotherConnectionsLockAndThenSucceeds() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let other = try DatabaseQueue(path: bench.workspace.storePath)
        for round in 0..<2 {
            // Held by the other connection: the store's next write finds it taken.
            let holding = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            let holder = Task.detached {
                try await other.writeWithoutTransaction { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    holding.continuation.yield()
                    // Holds the lock until told to let go; a plain wait, as another process's
                    // long transaction would be.
                    let semaphore = DispatchSemaphore(value: 0)
                    Task { for await _ in release.stream { break }; semaphore.signal() }
                    semaphore.wait()
                    try db.execute(sql: "COMMIT")
                }
            }
            for await _ in holding.stream { break }
            let done = Mutex(false)
            let writer = Task {
                let runID = try await bench.submit("version: 1\nname: waits\(round)\nsteps:\n  a: { run: 'true' }\n")
                done.withLock { $0 = true }
                return runID
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(done.withLock { !$0 }, "round \(round): the write went through while another connection held the lock")
            release.continuation.yield()
            try await holder.value
            let runID = try await writer.value
            #expect(try await bench.store.runState(runID) == .queued)
        }
    }
}
