import Foundation

/// The queue's rules, as pure functions over plain values: no I/O, no clock, no threads.
///
/// A store loads the rows a change touches, asks these functions what the change is, and writes
/// the answer back in one transaction. Keeping every decision here lets the rules be tested on
/// their own and keeps the SQLite store and a PostgreSQL one from drifting apart.
public enum QueueCore {
    /// How many times a task may lose its worker (the lease lapsed: the worker died, hung or was cut
    /// off) before it ends failed. It is separate from `retry:`, which counts failures the task
    /// itself reported, so that a task whose worker is killed once runs again even without `retry:`,
    /// and a task that kills every worker that takes it ends failed instead of felling workers forever.
    public static let lostLeaseLimit = 3

    // MARK: Claims

    /// Whether a ready task may be claimed now.
    public static func isClaimable(_ task: TaskSnapshot, now: Double) -> Bool {
        task.state == .ready && task.notBefore <= now
    }

    /// Chooses, from ready candidates in queue order (priority, then submission, then plan order),
    /// the ones a worker with `free` capacity takes, reserving capacity for each.
    public static func choose(
        from candidates: [TaskSnapshot],
        free: Capacity,
        limit: Int,
        now: Double
    ) -> [TaskSnapshot] {
        var free = free
        var chosen: [TaskSnapshot] = []
        for task in candidates where chosen.count < limit && takes(task, free: &free, now: now) {
            chosen.append(task)
        }
        return chosen
    }

    /// Whether a worker with `free` capacity takes the next candidate in queue order; if it
    /// does, its capacity is reserved. ``choose(from:free:limit:now:)`` one candidate at a time,
    /// for a store that reads candidates until the worker is full.
    public static func takes(_ task: TaskSnapshot, free: inout Capacity, now: Double) -> Bool {
        guard isClaimable(task, now: now), free.fits(task.resources) else { return false }
        free.reserve(task.resources)
        return true
    }

    /// The task after a worker claimed it: running, under a lease, with its attempt raised.
    public static func claimed(_ task: TaskSnapshot, by worker: String, now: Double, leaseSeconds: Double) -> TaskSnapshot {
        var task = task
        task.state = .running
        task.attempt += 1
        task.leaseOwner = worker
        task.leaseExpires = now + leaseSeconds
        return task
    }

    // MARK: Leases

    /// What becomes of a running task whose lease lapsed: claimable again, or failed once it lost
    /// its worker ``lostLeaseLimit`` times.
    public static func leaseLapsed(_ task: TaskSnapshot) -> TaskSnapshot {
        precondition(task.state == .running, "only a running task holds a lease")
        var task = task
        task.lostLeases += 1
        task.leaseOwner = nil
        task.leaseExpires = nil
        if task.cancelRequested {
            task.state = .cancelled
            task.message = "cancelled"
        } else if task.lostLeases >= lostLeaseLimit {
            task.state = .failed
            task.message = "its worker stopped while running it \(task.lostLeases) times (the last lease lapsed); not tried again"
        } else {
            task.state = .ready
            task.message = "its worker stopped while running attempt \(task.attempt); claimable again"
        }
        return task
    }

    /// Whether a heartbeat from `worker` for `attempt` extends the lease.
    public static func acceptsHeartbeat(_ task: TaskSnapshot, worker: String, attempt: Int) -> Bool {
        task.state == .running && task.attempt == attempt && task.leaseOwner == worker
    }

    // MARK: Completion

    public enum Rejection: Error, Equatable, Sendable, Codable, CustomStringConvertible {
        /// The task is not running this attempt any more: its lease lapsed and it was claimed
        /// again, or it was completed already.
        case staleAttempt(current: Int, state: TaskState)
        case notOwner(owner: String?)

        public var description: String {
            switch self {
            case .staleAttempt(let current, let state):
                "stale attempt: the task is \(state.rawValue) at attempt \(current)"
            case .notOwner(let owner):
                "the attempt is leased to \(owner ?? "no worker")"
            }
        }
    }

    /// The task after its worker reported an outcome, or why the report is refused (fencing).
    ///
    /// - Parameter jitter: a number in [0, 1) that spreads retries of many tasks apart.
    public static func completed(
        _ task: TaskSnapshot,
        attempt: Int,
        worker: String,
        outcome: Outcome,
        now: Double,
        jitter: Double
    ) -> Result<TaskSnapshot, Rejection> {
        guard task.state == .running, task.attempt == attempt else {
            return .failure(.staleAttempt(current: task.attempt, state: task.state))
        }
        guard task.leaseOwner == worker else { return .failure(.notOwner(owner: task.leaseOwner)) }
        var task = task
        task.leaseOwner = nil
        task.leaseExpires = nil
        switch outcome {
        case .succeeded(let cacheHit):
            task.state = .succeeded
            task.message = cacheHit ? "cache hit" : nil
        case .skipped(let reason):
            task.state = .skipped
            task.message = reason
        case .cancelled:
            task.state = .cancelled
            task.message = "cancelled"
        case .failed(let message):
            let failures = task.attempt - task.firstAttempt - task.lostLeases
            if task.cancelRequested {
                task.state = .cancelled
                task.message = "cancelled"
            } else if failures < task.retry.attempts {
                task.state = .ready
                task.notBefore = now + backoff(task.retry, failures: failures, jitter: jitter)
                task.message = "attempt \(task.attempt) failed: \(message); retrying"
            } else {
                task.state = .failed
                task.message = message
            }
        }
        return .success(task)
    }

    /// The wait before the next try after `failures` failed tries: exponential, capped, with
    /// "equal jitter" (half fixed, half random) so that retries neither stampede nor starve.
    public static func backoff(_ policy: RetryPolicySpec, failures: Int, jitter: Double) -> Double {
        let exponent = Double(max(0, failures - 1))
        let base = min(policy.maximumSeconds, policy.initialSeconds * pow(policy.factor, exponent))
        return base / 2 + base / 2 * min(max(jitter, 0), 1)
    }

    // MARK: Dependants

    /// What becomes of a waiting task when one of the tasks it needs ended in `upstream`.
    public static func upstreamEnded(_ task: TaskSnapshot, upstream: TaskState) -> TaskSnapshot {
        guard task.state == .waiting else { return task }
        var task = task
        task.pending -= 1
        switch upstream {
        case .succeeded: break
        case .skipped where task.upstreamIssue == .none: task.upstreamIssue = .skipped
        case .failed, .cancelled: task.upstreamIssue = .failed
        default: break
        }
        guard task.pending <= 0 else { return task }
        switch task.upstreamIssue {
        case .none:
            task.state = .ready
        case .failed, .skipped:
            if task.usesStatusFunctions {
                task.state = .ready
            } else {
                task.state = .skipped
                task.message = task.upstreamIssue == .failed ? "a step it needs failed" : "a step it needs was skipped"
            }
        }
        return task
    }

    /// The run's state, from how many of its tasks are unfinished, failed and cancelled.
    public static func runState(unfinished: Int, failed: Int, cancelled: Int, started: Bool, cancelRequested: Bool) -> RunState {
        if unfinished > 0 { return started ? .running : .queued }
        // A failure names the run even when --fail-fast cancelled the rest after it.
        if failed > 0 { return .failed }
        return cancelRequested || cancelled > 0 ? .cancelled : .succeeded
    }

    /// How a task's change moves its run's counters of unfinished, failed and cancelled tasks.
    public static func counterChange(from old: TaskState, to new: TaskState) -> (unfinished: Int, failed: Int, cancelled: Int) {
        func weights(_ state: TaskState) -> (Int, Int, Int) {
            (state.isFinished ? 0 : 1, state == .failed ? 1 : 0, state == .cancelled ? 1 : 0)
        }
        let (u0, f0, c0) = weights(old)
        let (u1, f1, c1) = weights(new)
        return (u1 - u0, f1 - f0, c1 - c0)
    }
}

