@testable import Engine
import Foundation
import Synchronization
import Testing

/// How ops' threads are reused: a thread whose op has returned runs the next op; one whose op is
/// still running (an op that timed out and does not return) is never given to another.
@Suite struct OpThreadReuseTests {
    /// The system's number for the thread that work with `thread` as its preference runs on.
    private func systemThread(of thread: OpThread) async -> pthread_t {
        await withTaskExecutorPreference(thread) { pthread_self() }
    }

    @Test func aThreadWhoseOpReturnedRunsTheNext() async throws {
        // Kept far longer than a busy suite may hold this test up.
        let pool = OpThreadPool(idleSeconds: 600)
        let first = pool.lease()
        let ranOn = await systemThread(of: first)
        first.release()
        // The thread puts itself back once it sees the release.
        #expect(try await poll(seconds: 60) { pool.idleCount == 1 })
        let second = pool.lease()
        #expect(second === first)
        #expect(await systemThread(of: second) == ranOn)
        second.release()
    }

    @Test func aThreadStillRunningItsOpIsNotReused() async throws {
        let pool = OpThreadPool(idleSeconds: 600)
        let busy = pool.lease()
        let stop = Mutex(false)
        defer { stop.withLock { $0 = true } }
        let started = Mutex(false)
        let holding = Task(executorPreference: busy) {
            // A computation that does not check for cancellation, as a timed-out op may be.
            started.withLock { $0 = true }
            while !stop.withLock({ $0 }) { usleep(1_000) }
        }
        #expect(try await poll(seconds: 60) { started.withLock { $0 } })
        // Given up on while its op still runs, as when the op's time is up.
        busy.release()
        try await Task.sleep(for: .milliseconds(200))
        #expect(pool.idleCount == 0)
        let next = pool.lease()
        try #require(next !== busy)
        // The next op runs while the first still holds its thread.
        _ = await systemThread(of: next)
        #expect(stop.withLock { !$0 })
        next.release()
        stop.withLock { $0 = true }
        await holding.value
        // Now both threads are free.
        #expect(try await poll(seconds: 60) { pool.idleCount == 2 })
    }

    @Test func anUnusedThreadEnds() async throws {
        let pool = OpThreadPool(idleSeconds: 0.2)
        let thread = pool.lease()
        // "PID/task/TID": the system's number for the thread the op runs on.
        let task = await withTaskExecutorPreference(thread) { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self") }
        let path = "/proc/\(try #require(task))"
        #expect(FileManager.default.fileExists(atPath: path))
        thread.release()
        #expect(try await poll(seconds: 60) { !FileManager.default.fileExists(atPath: path) })
        #expect(pool.idleCount == 0)
    }
}
