import Foundation
import Synchronization

/// Threads whose ops have returned, kept for the next op for a while.
final class OpThreadPool: Sendable {
    /// The pool every op of this process takes its thread from.
    static let shared = OpThreadPool()

    /// How long an unused thread waits for another op before it ends.
    let idleSeconds: Double
    fileprivate let idle = Mutex<[OpThread]>([])

    init(idleSeconds: Double = 10) {
        self.idleSeconds = idleSeconds
    }

    /// A thread for an op: an idle one when there is one, otherwise a new one. Give it back with
    /// ``OpThread/release()`` when the op has returned or been given up on.
    func lease() -> OpThread {
        if let thread = idle.withLock({ $0.popLast() }) {
            thread.reuse()
            return thread
        }
        return OpThread(pool: self)
    }

    /// How many threads wait for an op.
    var idleCount: Int { idle.withLock { $0.count } }
}

/// A task executor (Swift's, not the engine's ``TaskExecutor``) with a thread of its own, on which
/// one op runs at a time.
///
/// Ops compute synchronously for seconds or hours. On Swift's cooperative pool, which has one
/// thread per core, a few of them at once would hold every thread, and nothing else in the worker
/// would run until they returned: no heartbeat (so the task's lease would lapse), no timeout, no
/// cancellation. On a thread of its own an op holds only that thread.
///
/// A thread is kept in its ``OpThreadPool`` for a while once its op has returned, and the next op
/// takes it rather than starting another: a thread's start (its 8 MiB stack mapped, then given
/// back) costs more than a short op does. An op that outlives its task (one that timed out and does
/// not return) keeps its thread; only a thread with nothing left to run goes back to the pool.
final class OpThread: _Concurrency.TaskExecutor, Sendable {
    private struct Queue {
        var jobs: [UnownedJob] = []
        /// Its op has returned: once its jobs are run, the thread is free for another.
        var released = false
    }

    private let pool: OpThreadPool
    private let queue = Mutex(Queue())
    private let wakeUp = NSCondition()

    fileprivate init(pool: OpThreadPool) {
        self.pool = pool
        let thread = Thread { [self] in run() }
        thread.name = "blacktail op"
        // The size of a main thread's stack: some ops recurse (trees grow depth first).
        thread.stackSize = 8 << 20
        thread.start()
    }

    fileprivate func reuse() {
        wakeUp.lock()
        queue.withLock { $0.released = false }
        wakeUp.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        wakeUp.lock()
        queue.withLock { $0.jobs.append(job) }
        wakeUp.signal()
        wakeUp.unlock()
    }

    /// Says the op has returned or been given up on; the thread goes back to its pool once it has
    /// run what it was given.
    func release() {
        wakeUp.lock()
        queue.withLock { $0.released = true }
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func run() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next job to run, waiting for one; nil when the thread has been idle long enough to end.
    private func next() -> UnownedJob? {
        wakeUp.lock()
        defer { wakeUp.unlock() }
        var pooled = false
        while true {
            let (job, released) = queue.withLock { queue -> (UnownedJob?, Bool) in
                queue.jobs.isEmpty ? (nil, queue.released) : (queue.jobs.removeFirst(), queue.released)
            }
            if let job { return job }
            if !released {
                // Leased (again): wait for the op's jobs.
                pooled = false
                wakeUp.wait()
                continue
            }
            if !pooled {
                pool.idle.withLock { $0.append(self) }
                pooled = true
            }
            if !wakeUp.wait(until: Date(timeIntervalSinceNow: pool.idleSeconds)) {
                // Still unused: leave the pool and end, unless a lease took this thread meanwhile.
                let left = pool.idle.withLock { idle in
                    guard let index = idle.firstIndex(where: { $0 === self }) else { return false }
                    idle.remove(at: index)
                    return true
                }
                if left { return nil }
            }
        }
    }
}
