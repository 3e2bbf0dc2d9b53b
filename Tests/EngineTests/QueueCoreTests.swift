import Engine
import Testing

/// The queue's rules on their own: no store, no threads, no clock.
@Suite struct QueueCoreTests {
    func task(_ id: Int64, _ state: TaskState = .ready, cpu: Double = 1, gpus: Int = 0, labels: [String] = [], attempts: Int = 1) -> TaskSnapshot {
        TaskSnapshot(
            id: id, runID: "r", nodeID: "n\(id)", state: state,
            resources: ResourceSpec(cpu: cpu, gpus: gpus, labels: labels),
            retry: RetryPolicySpec(attempts: attempts, initialSeconds: 10, factor: 2, maximumSeconds: 60)
        )
    }

    @Test func claimsTakeWhatFitsInQueueOrder() {
        let candidates = [task(1, cpu: 2), task(2, cpu: 1), task(3, cpu: 1, gpus: 1), task(4, cpu: 1, labels: ["a100"]), task(5, cpu: 1)]
        let free = Capacity(cpu: 3, gpus: 0, labels: [])
        let chosen = QueueCore.choose(from: candidates, free: free, limit: 10, now: 0)
        // 1 takes two CPUs, 2 the third; 3 needs a GPU, 4 a label, 5 finds no CPU left.
        #expect(chosen.map(\.id) == [1, 2])
        #expect(QueueCore.choose(from: candidates, free: Capacity(cpu: 8, gpus: 1, labels: ["a100"]), limit: 10, now: 0).map(\.id) == [1, 2, 3, 4, 5])
        #expect(QueueCore.choose(from: candidates, free: Capacity(cpu: 8), limit: 2, now: 0).map(\.id) == [1, 2])
    }

    @Test func aTaskWaitingOutItsBackoffIsNotClaimed() {
        var waiting = task(1)
        waiting.notBefore = 100
        #expect(QueueCore.choose(from: [waiting], free: Capacity(cpu: 1), limit: 1, now: 99).isEmpty)
        #expect(QueueCore.choose(from: [waiting], free: Capacity(cpu: 1), limit: 1, now: 100).count == 1)
    }

    @Test func aClaimRaisesTheAttemptUnderALease() {
        let claimed = QueueCore.claimed(task(1), by: "w1", now: 50, leaseSeconds: 30)
        #expect(claimed.state == .running)
        #expect(claimed.attempt == 1)
        #expect(claimed.leaseOwner == "w1")
        #expect(claimed.leaseExpires == 80)
        #expect(QueueCore.acceptsHeartbeat(claimed, worker: "w1", attempt: 1))
        #expect(!QueueCore.acceptsHeartbeat(claimed, worker: "w2", attempt: 1))
        #expect(!QueueCore.acceptsHeartbeat(claimed, worker: "w1", attempt: 2))
    }

    @Test func aLapsedLeaseReturnsTheTaskUntilTheLimit() {
        var current = task(1)
        for lost in 1...QueueCore.lostLeaseLimit {
            current = QueueCore.claimed(current, by: "w\(lost)", now: 0, leaseSeconds: 1)
            current = QueueCore.leaseLapsed(current)
            #expect(current.lostLeases == lost)
            #expect(current.leaseOwner == nil)
            if lost < QueueCore.lostLeaseLimit {
                #expect(current.state == .ready)
            } else {
                #expect(current.state == .failed)
                #expect(current.message?.contains("stopped while running it \(lost) times") == true)
            }
        }
        #expect(current.attempt == QueueCore.lostLeaseLimit)
    }

    @Test func aCompletionIsFencedByAttemptAndWorker() {
        let first = QueueCore.claimed(task(1), by: "w1", now: 0, leaseSeconds: 1)
        // The lease lapses, and w2 claims attempt 2.
        let second = QueueCore.claimed(QueueCore.leaseLapsed(first), by: "w2", now: 2, leaseSeconds: 1)
        let late = QueueCore.completed(second, attempt: 1, worker: "w1", outcome: .succeeded(cacheHit: false), now: 3, jitter: 0)
        #expect(late == .failure(.staleAttempt(current: 2, state: .running)))
        let forged = QueueCore.completed(second, attempt: 2, worker: "w1", outcome: .succeeded(cacheHit: false), now: 3, jitter: 0)
        #expect(forged == .failure(.notOwner(owner: "w2")))
        let done = try? QueueCore.completed(second, attempt: 2, worker: "w2", outcome: .succeeded(cacheHit: false), now: 3, jitter: 0).get()
        #expect(done?.state == .succeeded)
        // A second report of a finished attempt is refused too.
        if let done {
            #expect(QueueCore.completed(done, attempt: 2, worker: "w2", outcome: .failed(message: "x"), now: 4, jitter: 0)
                == .failure(.staleAttempt(current: 2, state: .succeeded)))
        }
    }

    @Test func failuresAreRetriedWithBackoffThenFail() throws {
        var current = task(1, attempts: 3)
        var waits: [Double] = []
        for attempt in 1...3 {
            current = QueueCore.claimed(current, by: "w", now: 1000, leaseSeconds: 30)
            current = try QueueCore.completed(current, attempt: attempt, worker: "w", outcome: .failed(message: "boom"), now: 1000, jitter: 1).get()
            if attempt < 3 {
                #expect(current.state == .ready)
                waits.append(current.notBefore - 1000)
            }
        }
        #expect(current.state == .failed)
        #expect(current.message == "boom")
        // initial 10 s, factor 2: full waits of 10 and 20 s with jitter 1.
        #expect(waits == [10, 20])
    }

    @Test func backoffIsCappedAndJittered() {
        let policy = RetryPolicySpec(attempts: 10, initialSeconds: 10, factor: 3, maximumSeconds: 60)
        #expect(QueueCore.backoff(policy, failures: 1, jitter: 0) == 5)
        #expect(QueueCore.backoff(policy, failures: 1, jitter: 0.5) == 7.5)
        #expect(QueueCore.backoff(policy, failures: 2, jitter: 1) == 30)
        #expect(QueueCore.backoff(policy, failures: 8, jitter: 1) == 60)
        #expect(QueueCore.backoff(policy, failures: 8, jitter: 0) == 30)
    }

    @Test func lostLeasesDoNotUseUpRetries() throws {
        // One lost worker, then a failure: with attempts: 2 the failure is still retried.
        var current = task(1, attempts: 2)
        current = QueueCore.leaseLapsed(QueueCore.claimed(current, by: "w1", now: 0, leaseSeconds: 1))
        current = QueueCore.claimed(current, by: "w2", now: 2, leaseSeconds: 1)
        current = try QueueCore.completed(current, attempt: 2, worker: "w2", outcome: .failed(message: "x"), now: 3, jitter: 0).get()
        #expect(current.state == .ready)
    }

    @Test func cancellationWinsOverRetry() throws {
        var running = QueueCore.claimed(task(1, attempts: 5), by: "w", now: 0, leaseSeconds: 1)
        running.cancelRequested = true
        let ended = try QueueCore.completed(running, attempt: 1, worker: "w", outcome: .failed(message: "killed"), now: 1, jitter: 0).get()
        #expect(ended.state == .cancelled)
        #expect(QueueCore.leaseLapsed(running).state == .cancelled)
    }

    @Test func dependantsBecomeReadyOrSkipped() {
        var waiting = task(9, .waiting)
        waiting.pending = 2
        let afterOne = QueueCore.upstreamEnded(waiting, upstream: .succeeded)
        #expect(afterOne.state == .waiting && afterOne.pending == 1)
        #expect(QueueCore.upstreamEnded(afterOne, upstream: .succeeded).state == .ready)

        let failed = QueueCore.upstreamEnded(QueueCore.upstreamEnded(waiting, upstream: .failed), upstream: .succeeded)
        #expect(failed.state == .skipped)
        #expect(failed.message == "a step it needs failed")
        let skipped = QueueCore.upstreamEnded(QueueCore.upstreamEnded(waiting, upstream: .skipped), upstream: .succeeded)
        #expect(skipped.message == "a step it needs was skipped")

        // A condition with always() or failure() decides for itself.
        var deciding = waiting
        deciding.usesStatusFunctions = true
        let ready = QueueCore.upstreamEnded(QueueCore.upstreamEnded(deciding, upstream: .failed), upstream: .succeeded)
        #expect(ready.state == .ready)
        #expect(ready.upstreamIssue == .failed)
    }

    @Test func runStateFollowsItsCounters() {
        #expect(QueueCore.runState(unfinished: 3, failed: 0, cancelled: 0, started: false, cancelRequested: false) == .queued)
        #expect(QueueCore.runState(unfinished: 3, failed: 1, cancelled: 0, started: true, cancelRequested: false) == .running)
        #expect(QueueCore.runState(unfinished: 0, failed: 0, cancelled: 0, started: true, cancelRequested: false) == .succeeded)
        #expect(QueueCore.runState(unfinished: 0, failed: 1, cancelled: 0, started: true, cancelRequested: false) == .failed)
        #expect(QueueCore.runState(unfinished: 0, failed: 1, cancelled: 2, started: true, cancelRequested: true) == .failed)
        #expect(QueueCore.runState(unfinished: 0, failed: 0, cancelled: 2, started: true, cancelRequested: true) == .cancelled)
        #expect(QueueCore.counterChange(from: .running, to: .failed) == (-1, 1, 0))
        #expect(QueueCore.counterChange(from: .failed, to: .waiting) == (1, -1, 0))
        #expect(QueueCore.counterChange(from: .ready, to: .running) == (0, 0, 0))
    }
}
