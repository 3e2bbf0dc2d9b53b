import Foundation
import Synchronization

/// A task executor (Swift's, not the engine's ``TaskExecutor``) with a thread of its own, on which
/// one op runs.
///
/// Ops compute synchronously for seconds or hours. On Swift's cooperative pool, which has one
/// thread per core, a few of them at once would hold every thread, and nothing else in the worker
/// would run until they returned: no heartbeat (so the task's lease would lapse), no timeout, no
/// cancellation. On a thread of its own an op holds only that thread.
final class OpThread: _Concurrency.TaskExecutor, Sendable {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var stopped = false
    }

    private let queue = Mutex(Queue())
    private let wakeUp = NSCondition()

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        // The size of a main thread's stack: some ops recurse (trees grow depth first).
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        wakeUp.lock()
        queue.withLock { $0.jobs.append(job) }
        wakeUp.signal()
        wakeUp.unlock()
    }

    /// Lets the thread end once it has run the jobs it was given.
    func stop() {
        wakeUp.lock()
        queue.withLock { $0.stopped = true }
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func run() {
        while true {
            wakeUp.lock()
            var next: UnownedJob?
            while true {
                let (job, stopped): (UnownedJob?, Bool) = queue.withLock { queue in
                    queue.jobs.isEmpty ? (nil, queue.stopped) : (queue.jobs.removeFirst(), false)
                }
                if let job {
                    next = job
                    break
                }
                if stopped { break }
                wakeUp.wait()
            }
            wakeUp.unlock()
            guard let job = next else { return }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
