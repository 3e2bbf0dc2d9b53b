import BlacktailOps
@testable import Engine
import Foundation
import PipelineLanguage
import Testing

/// The store interface's contract, checked on both stores: the SQLite store of one machine and
/// the PostgreSQL store of a cluster (on a server of the tests' own, on loopback).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// A fresh, empty store of this kind, and what closes it.
    func make(in bench: TestBench) async throws -> (store: any RunStore, close: @Sendable () async -> Void) {
        switch self {
        case .sqlite:
            return (try SQLiteStore(path: "\(bench.folder)/contract.sqlite"), {})
        case .postgres:
            let store = try await PostgresStore(url: try await PostgresServer.shared().database())
            return (store, { await store.close() })
        }
    }
}

@Suite struct StoreContractTests {
    static let diamond = """
        version: 1
        name: diamond
        steps:
          a: { run: 'true' }
          b: { run: 'true', needs: [a] }
          c: { run: 'true', needs: [a] }
          d: { run: 'true', needs: [b, c] }
          e: { run: 'true', resources: { gpu: 1 } }
        """

    private static func claim(_ store: any RunStore, worker: String = "w1", gpus: Int = 0, limit: Int = 8, lease: Double = 30, now: Double) async throws -> [ClaimedTask] {
        try await store.claim(worker: worker, free: Capacity(cpu: 8, gpus: gpus), limit: limit, leaseSeconds: lease, now: now)
    }

    private static func complete(_ store: any RunStore, _ task: ClaimedTask, worker: String = "w1", _ outcome: Outcome, outputs: [ArtifactRecord] = [], cacheKey: String? = nil, now: Double) async throws {
        try await store.complete(
            Completion(taskID: task.snapshot.id, attempt: task.snapshot.attempt, worker: worker, outcome: outcome, outputs: outputs, cacheKey: cacheKey, startedAt: now),
            now: now
        )
    }

    /// `blacktail run` claims only its own run's tasks, in the file's order, whatever else waits.
    @Test(arguments: StoreKind.allCases)
    func aClaimForOneRunTakesOnlyThatRunsTasks(_ kind: StoreKind) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let (store, close) = try await kind.make(in: bench)
        let steps = (0..<6).map { "  t\($0): { run: 'true' }\n" }.joined()
        let yaml = "version: 1\nname: wide\nsteps:\n\(steps)"
        let first = try await store.submit(try bench.submission(yaml), now: 1).runID
        let second = try await store.submit(try bench.submission(yaml), now: 2).runID
        let urgent = try await store.submit(try bench.submission(yaml, options: Submitter.Options(priority: 5)), now: 3).runID
        #expect(Set([first, second, urgent]).count == 3)

        func claim(_ run: String, limit: Int, now: Double) async throws -> [ClaimedTask] {
            try await store.claim(worker: "w1", free: Capacity(cpu: 64, gpus: 0), limit: limit, leaseSeconds: 30, onlyRun: run, now: now)
        }
        var claimed = try await claim(second, limit: 4, now: 4)
        #expect(claimed.allSatisfy { $0.snapshot.runID == second })
        #expect(claimed.map(\.spec.nodeID) == ["t0", "t1", "t2", "t3"])
        for task in claimed { try await Self.complete(store, task, .succeeded(cacheHit: false), now: 5) }
        claimed = try await claim(second, limit: 4, now: 6)
        #expect(claimed.map(\.spec.nodeID) == ["t4", "t5"])
        #expect(claimed.allSatisfy { $0.snapshot.runID == second })
        for task in claimed { try await Self.complete(store, task, .succeeded(cacheHit: false), now: 7) }
        #expect(try await claim(second, limit: 4, now: 8).isEmpty)
        #expect(try await store.runState(second) == .succeeded)
        // The other runs were not touched; a claim for any run takes the urgent one first.
        #expect(try await store.runState(first) == .queued)
        let any = try await Self.claim(store, limit: 2, now: 9)
        #expect(any.allSatisfy { $0.snapshot.runID == urgent })
        #expect(try await claim(first, limit: 8, now: 10).map(\.spec.nodeID) == (0..<6).map { "t\($0)" })
        await close()
    }

    @Test(arguments: StoreKind.allCases)
    func tasksBecomeReadyInOrderAndAFailureSkipsItsDependants(_ kind: StoreKind) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let (store, close) = try await kind.make(in: bench)
        let submission = try bench.submission(Self.diamond)
        let (runID, created) = try await store.submit(submission, now: 1)
        #expect(created)
        #expect(try await store.runState(runID) == .queued)

        var claimed = try await Self.claim(store, now: 2)
        #expect(claimed.map(\.spec.nodeID) == ["a"])  // e needs a GPU this worker has not
        #expect(claimed[0].snapshot.attempt == 1)
        #expect(try await store.runState(runID) == .running)
        try await Self.complete(store, claimed[0], .succeeded(cacheHit: false), outputs: [ArtifactRecord(name: "out", type: "file", digest: String(repeating: "a", count: 64), size: 3)], cacheKey: "key-a", now: 3)

        claimed = try await Self.claim(store, now: 4)
        #expect(claimed.map(\.spec.nodeID).sorted() == ["b", "c"])
        #expect(claimed.first?.upstream["a"]?.outputs["out"]?.size == 3)
        let (b, c) = (claimed.first { $0.spec.nodeID == "b" }!, claimed.first { $0.spec.nodeID == "c" }!)
        try await Self.complete(store, b, .succeeded(cacheHit: false), now: 5)
        try await Self.complete(store, c, .failed(message: "boom"), now: 5)

        let gpu = try await Self.claim(store, worker: "w2", gpus: 1, now: 6)
        #expect(gpu.map(\.spec.nodeID) == ["e"])
        try await Self.complete(store, gpu[0], worker: "w2", .succeeded(cacheHit: false), now: 7)

        let tasks = Dictionary(uniqueKeysWithValues: try await store.tasks(runID: runID).map { ($0.spec.nodeID, $0) })
        #expect(tasks["d"]?.snapshot.state == .skipped)
        #expect(tasks["c"]?.snapshot.message == "boom")
        #expect(tasks["a"]?.outputs.map(\.name) == ["out"])
        #expect(tasks["e"]?.worker == "w2")
        #expect(try await store.runState(runID) == .failed)
        let record = try #require(try await store.run(String(runID.prefix(15))))
        #expect(record.id == runID && record.counts[.succeeded] == 3 && record.counts[.failed] == 1 && record.counts[.skipped] == 1)
        #expect(record.startedAt == 2 && record.finishedAt == 7)
        #expect(try await store.plan(runID: runID) == submission.plan)
        #expect(try await store.runs(limit: 5).map(\.id) == [runID])
        #expect(try await store.cacheEntry(key: "key-a")?.outputs.first?.size == 3)
        #expect(try await store.referencedDigests() == [String(repeating: "a", count: 64)])
        let attempts = try await store.attempts(taskID: try #require(tasks["c"]).snapshot.id)
        #expect(attempts.map(\.outcome) == ["failed"])

        // Retrying keeps what succeeded and runs the rest again.
        try await store.retry(runID: runID, now: 8)
        claimed = try await Self.claim(store, now: 9)
        #expect(claimed.map(\.spec.nodeID) == ["c"])
        #expect(claimed[0].snapshot.attempt == 2)
        try await Self.complete(store, claimed[0], .succeeded(cacheHit: false), now: 10)
        // Running again: no end time until it ends again.
        #expect(try await store.run(runID).map { [$0.state.rawValue, $0.finishedAt.map { "\($0)" } ?? "none"] } == ["running", "none"])
        let last = try await Self.claim(store, now: 11)
        #expect(last.map(\.spec.nodeID) == ["d"])
        try await Self.complete(store, last[0], .succeeded(cacheHit: false), now: 12)
        #expect(try await store.runState(runID) == .succeeded)
        #expect(try await store.run(runID)?.finishedAt == 12)
        await close()
    }

    @Test(arguments: StoreKind.allCases)
    func leasesLapseAndStaleReportsAreRefused(_ kind: StoreKind) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let (store, close) = try await kind.make(in: bench)
        let runID = try await store.submit(try bench.submission("version: 1\nname: one\nsteps:\n  a: { run: 'true' }\n"), now: 0).runID
        let first = try await Self.claim(store, lease: 5, now: 1)
        #expect(try await store.heartbeat(taskID: first[0].snapshot.id, attempt: 1, worker: "w1", leaseSeconds: 5, now: 2) == .extended(cancelRequested: false))
        #expect(try await store.heartbeat(taskID: first[0].snapshot.id, attempt: 1, worker: "intruder", leaseSeconds: 5, now: 2) == .lost)
        // The worker goes quiet; its lease lapses and another worker takes the task.
        #expect(try await store.expireLeases(now: 20) == 1)
        let second = try await Self.claim(store, worker: "w2", now: 21)
        #expect(second.first?.snapshot.attempt == 2)
        await #expect(throws: QueueCore.Rejection.self) {
            try await Self.complete(store, first[0], .succeeded(cacheHit: false), now: 22)
        }
        #expect(try await store.heartbeat(taskID: first[0].snapshot.id, attempt: 1, worker: "w1", leaseSeconds: 5, now: 22) == .lost)
        try await Self.complete(store, second[0], worker: "w2", .succeeded(cacheHit: false), now: 23)
        #expect(try await store.runState(runID) == .succeeded)
        let attempts = try await store.attempts(taskID: first[0].snapshot.id).map { "\($0.attempt) \($0.worker) \($0.outcome ?? "-")" }
        #expect(attempts == ["1 w1 lost", "2 w2 succeeded"])
        await close()
    }

    @Test(arguments: StoreKind.allCases)
    func cancellingIdempotencyPrioritiesWorkersAndSchedules(_ kind: StoreKind) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let (store, close) = try await kind.make(in: bench)
        let yaml = "version: 1\nname: pair\nsteps:\n  a: { run: 'true' }\n  b: { run: 'true', needs: [a] }\n"
        var keyed = try bench.submission(yaml, options: Submitter.Options(idempotencyKey: "nightly"))
        let (low, _) = try await store.submit(keyed, now: 0)
        keyed.runID = "another"
        #expect(try await store.submit(keyed, now: 1) == (low, false))
        let high = try await store.submit(try bench.submission(yaml, options: Submitter.Options(priority: 5)), now: 2).runID
        let claimed = try await Self.claim(store, limit: 1, now: 3)
        #expect(claimed.first?.snapshot.runID == high)

        try await store.cancel(runID: high, now: 4)
        #expect(try await store.heartbeat(taskID: claimed[0].snapshot.id, attempt: 1, worker: "w1", leaseSeconds: 30, now: 5) == .extended(cancelRequested: true))
        try await Self.complete(store, claimed[0], .cancelled, now: 6)
        #expect(try await store.runState(high) == .cancelled)
        await #expect(throws: EngineError.self) { try await store.cancel(runID: "nope", now: 7) }

        try await store.registerWorker(WorkerRecord(id: "w1", host: "h", pid: 1, cpu: 2, memoryBytes: nil, gpus: ["0"], labels: ["a100"], startedAt: 1, heartbeatAt: 1), now: 8)
        #expect(try await store.workers().map(\.labels) == [["a100"]])

        let schedule = ScheduleRecord(name: "nightly", pipelinePath: "p.yaml", projectDirectory: "/p", cron: "0 3 * * *", params: ["a=1"], missed: .catchUp, createdAt: 0, checkedThrough: 100)
        try await store.saveSchedule(schedule)
        #expect(try await store.schedules() == [schedule])
        var tick = try bench.submission(yaml)
        #expect(try await store.submitTick(schedule: "nightly", tick: 200, submission: tick, now: 9) == tick.runID)
        tick.runID = "second-try"
        #expect(try await store.submitTick(schedule: "nightly", tick: 200, submission: tick, now: 9) == nil)
        try await store.markScheduleChecked(name: "nightly", through: 200)
        try await store.markScheduleChecked(name: "nightly", through: 150)
        #expect(try await store.schedules().first?.checkedThrough == 200)
        #expect(try await store.removeSchedule(name: "nightly"))
        #expect(try await store.removeSchedule(name: "nightly") == false)
        await close()
    }

    @Test(arguments: StoreKind.allCases)
    func nodesAreFoundByTheirTokensHashAndCanBeDrainedAndRemoved(_ kind: StoreKind) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let (store, close) = try await kind.make(in: bench)
        let token = NodeToken.generate()
        #expect(token.hasPrefix("btn_") && token.count == 47)
        try await store.addNode(name: "gpu-1", role: .agent, tokenSHA256: NodeToken.hash(token), now: 5)
        try await store.addNode(name: "laptop", role: .client, tokenSHA256: NodeToken.hash(NodeToken.generate()), now: 6)
        await #expect(throws: EngineError.self) { try await store.addNode(name: "gpu-1", role: .agent, tokenSHA256: "other", now: 7) }
        await #expect(throws: EngineError.self) { try await store.addNode(name: "../x", role: .agent, tokenSHA256: "other", now: 7) }
        #expect(try await store.node(tokenSHA256: NodeToken.hash(token)) == NodeRecord(name: "gpu-1", role: .agent, state: .active, createdAt: 5))
        #expect(try await store.node(tokenSHA256: token) == nil)

        // The agent's registration and running tasks show in the list.
        try await store.registerWorker(WorkerRecord(id: "gpu-1", host: "h", pid: 1, cpu: 4, memoryBytes: nil, gpus: ["0", "1"], labels: [], startedAt: 8, heartbeatAt: 8), now: 9)
        let runs = [try await store.submit(try bench.submission(Self.diamond), now: 10).runID]
        _ = try await Self.claim(store, worker: "gpu-1", gpus: 1, now: 11)
        let listed = try await store.nodes()
        #expect(listed.map(\.name) == ["gpu-1", "laptop"])
        #expect(listed[0].gpus == ["0", "1"] && listed[0].heartbeatAt == 9 && listed[0].runningTasks == 2)
        #expect(listed[1].heartbeatAt == nil && listed[1].runningTasks == 0)

        // A held task as its worker sees it, by id alone.
        let first = try #require(try await store.tasks(runID: runs[0]).first { $0.spec.nodeID == "a" })
        let held = try #require(try await store.heldTask(id: first.snapshot.id, runID: nil))
        #expect(held.snapshot.state == .running && held.snapshot.leaseOwner == "gpu-1" && held.spec.nodeID == "a" && held.upstream.isEmpty)
        #expect(try await store.heldTask(id: 999_999, runID: nil) == nil)

        #expect(try await store.setNodeState(name: "gpu-1", state: .draining))
        #expect(try await store.node(tokenSHA256: NodeToken.hash(token))?.state == .draining)
        #expect(try await store.setNodeState(name: "nobody", state: .draining) == false)
        #expect(try await store.removeNode(name: "gpu-1"))
        #expect(try await store.node(tokenSHA256: NodeToken.hash(token)) == nil)
        #expect(try await store.removeNode(name: "gpu-1") == false)
        await close()
    }

    /// A pipeline through real workers: two of them on one store, each task run once.
    @Test(arguments: StoreKind.allCases)
    func workersShareAStoreAndRunEachTaskOnce(_ kind: StoreKind) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let (store, close) = try await kind.make(in: bench)
        let steps = (0..<24).map { "  t\($0):\n    run: echo \($0) > out.txt\n    outputs: { out: { path: out.txt, type: file } }\n" }.joined()
        let yaml = """
            version: 1
            name: fan
            steps:
              prep:
                uses: data/import-csv
                with: { path: datasets/iris.csv, label: species }
            \(steps)
            """
        let runID = try await store.submit(try bench.submission(yaml), now: Date().timeIntervalSince1970).runID
        func worker() -> Worker {
            var configuration = Worker.Configuration(concurrency: 3, cpu: 3)
            configuration.pollSeconds = 0.02
            return Worker(store: store, executor: TaskExecutor(workspace: bench.workspace, catalogue: BuiltinOps.catalogue), configuration: configuration)
        }
        let (one, two) = (worker(), worker())
        async let first: Void = one.run { try await store.runState(runID)?.isFinished ?? true }
        async let second: Void = two.run { try await store.runState(runID)?.isFinished ?? true }
        _ = try await (first, second)
        #expect(try await store.runState(runID) == .succeeded)
        let tasks = try await store.tasks(runID: runID)
        #expect(tasks.count == 25)
        for task in tasks {
            #expect(task.snapshot.attempt == 1, "\(task.spec.nodeID)")
            #expect(try await store.attempts(taskID: task.snapshot.id).count == 1)
        }
        let output = try #require(tasks.first { $0.spec.nodeID == "t7" }?.outputs.first)
        #expect(try bench.read(output) == "7\n")
        #expect(tasks.first { $0.spec.nodeID == "prep" }?.inputs.first?.source == "datasets/iris.csv")
        await close()
    }

    @Test func aPostgresURLIsCheckedAndANewerSchemaIsRefused() async throws {
        await #expect(throws: EngineError.self) { _ = try await PostgresStore(url: "mysql://localhost/x") }
        let url = try await PostgresServer.shared().database()
        let store = try await PostgresStore(url: url)
        await store.close()
        // Opening again is fine; a schema from a later blacktail is not.
        let again = try await PostgresStore(url: url)
        try await again.execute("INSERT INTO schema_versions (version, applied_at) VALUES (99, 0)")
        await again.close()
        do {
            let newer = try await PostgresStore(url: url)
            await newer.close()
            Issue.record("a store of a newer schema was opened")
        } catch {
            #expect("\(error)".contains("newer blacktail"))
        }
    }
}
