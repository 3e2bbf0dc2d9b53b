import BlacktailOps
@testable import Engine
import Foundation
import PipelineLanguage
import Testing

/// Scratch (not for commit): the same script of queue operations on both stores must leave the
/// same transcript.
@Suite struct ZZPostgresEquivalenceScratchTests {
    static let mixed = """
        version: 1
        name: mixed
        steps:
          a: { run: 'true' }
          b:
            run: 'true'
            needs: [a]
            retry: { attempts: 2, backoff: { initial: 1s, factor: 2 } }
          c: { run: 'true', needs: [a] }
          d: { run: 'true', needs: [b, c] }
          e: { run: 'true', needs: [d] }
          f:
            run: 'true'
            needs: [d]
            if: always()
          g:
            run: 'true'
            needs: [c]
            if: failure()
          h: { run: 'true', resources: { gpu: 1 } }
        """
    static let pair = "version: 1\nname: pair\nsteps:\n  p: { run: 'true' }\n  q: { run: 'true', needs: [p] }\n  r: { run: 'true' }\n  s: { run: 'true' }\n"
    static let fan = """
        version: 1
        name: fan
        steps:
          x1: { run: 'true' }
          x2: { run: 'true' }
          x3: { run: 'true' }
          x4: { run: 'true' }
          x5: { run: 'true' }
          x6: { run: 'true' }
          y: { run: 'true', needs: [x1, x2, x3, x4, x5, x6] }
          z: { run: 'true', needs: [y] }
          w:
            run: 'true'
            needs: [y]
            if: always()
        """

    final class Transcript: @unchecked Sendable {
        var lines: [String] = []
        func add(_ line: String) { lines.append(line) }
    }

    static func describe(_ claimed: [ClaimedTask]) -> String {
        claimed.map { task in
            let upstream = task.upstream.sorted { $0.key < $1.key }.map { node, up in
                "\(node)=\(up.state.rawValue)[\(up.outputs.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.digest.prefix(4)):\($0.value.size)" }.joined(separator: ","))]"
            }.joined(separator: " ")
            let s = task.snapshot
            return "\(task.spec.nodeID)#\(s.attempt) \(s.state.rawValue) lease=\(s.leaseOwner ?? "-")@\(s.leaseExpires.map { "\($0)" } ?? "-") msg=\(s.message ?? "-") cr=\(s.cancelRequested) up{\(upstream)} nc=\(task.noCache)"
        }.joined(separator: "; ")
    }

    static func dump(_ store: any RunStore, runs: [String], into t: Transcript, orderFree: Set<String> = []) async throws {
        for runID in runs {
            guard let run = try await store.run(runID) else { t.add("no run \(runID)"); continue }
            t.add("run \(run.pipeline) state=\(run.state.rawValue) cr=\(run.cancelRequested) started=\(run.startedAt.map { "\($0)" } ?? "-") finished=\(run.finishedAt.map { "\($0)" } ?? "-") counts=\(run.counts)")
            for task in try await store.tasks(runID: runID) {
                let s = task.snapshot
                t.add("  \(s.nodeID) \(s.state.rawValue) att=\(s.attempt) first=\(s.firstAttempt) lost=\(s.lostLeases) pend=\(s.pending) issue=\(s.upstreamIssue.rawValue) nb=\(s.notBefore) lease=\(s.leaseOwner ?? "-")@\(s.leaseExpires.map { "\($0)" } ?? "-") cr=\(orderFree.contains(runID) ? "?" : "\(s.cancelRequested)") msg=\(s.message ?? "-") worker=\(task.worker ?? "-") start=\(task.startedAt.map { "\($0)" } ?? "-") end=\(task.finishedAt.map { "\($0)" } ?? "-") key=\(task.cacheKey ?? "-") hit=\(task.cacheHit) out=\(task.outputs) in=\(task.inputs)")
                for attempt in try await store.attempts(taskID: s.id) {
                    t.add("    attempt \(attempt.attempt) \(attempt.worker) \(attempt.startedAt) \(attempt.finishedAt.map { "\($0)" } ?? "-") \(attempt.outcome ?? "-") \(attempt.message ?? "-")")
                }
            }
        }
    }

    static func node(_ claimed: [ClaimedTask], _ name: String) -> ClaimedTask? { claimed.first { $0.spec.nodeID == name } }

    static func done(_ task: ClaimedTask, worker: String = "w1", _ outcome: Outcome, outputs: [ArtifactRecord] = [], inputs: [ArtifactRecord] = [], key: String? = nil) -> Completion {
        Completion(taskID: task.snapshot.id, attempt: task.snapshot.attempt, worker: worker, outcome: outcome, outputs: outputs, inputs: inputs, cacheKey: key, startedAt: 0)
    }

    static func artifact(_ name: String, _ c: Character, size: Int64, position: Int = 0, source: String? = nil) -> ArtifactRecord {
        ArtifactRecord(name: name, position: position, type: "file", digest: String(repeating: c, count: 64), size: size, source: source)
    }

    /// The script; every observation goes to the transcript.
    static func script(_ store: any RunStore, _ subs: [Submission], bench: TestBench) async throws -> [String] {
        let t = Transcript()
        func claim(_ worker: String = "w1", gpus: Int = 0, limit: Int = 8, lease: Double = 30, only: String? = nil, now: Double) async throws -> [ClaimedTask] {
            let claimed = try await store.claim(worker: worker, free: Capacity(cpu: 8, gpus: gpus), limit: limit, leaseSeconds: lease, onlyRun: only, now: now)
            t.add("claim \(worker) @\(now): \(describe(claimed))")
            return claimed
        }
        func complete(_ c: Completion, then request: ClaimRequest? = nil, now: Double) async throws -> [ClaimedTask] {
            do {
                let next = try await store.complete(c, thenClaim: request, now: now)
                t.add("complete \(c.taskID)#\(c.attempt) \(c.outcome) @\(now) -> \(describe(next))")
                return next
            } catch {
                t.add("complete \(c.taskID)#\(c.attempt) \(c.outcome) @\(now) refused: \(error)")
                return []
            }
        }
        let runs = subs.map(\.runID)
        for (i, sub) in subs.enumerated() {
            let r = try await store.submit(sub, now: Double(i))
            t.add("submit \(r.created)")
        }
        // The priority-5 fail-fast run goes first; h needs a GPU this worker has not.
        var c1 = try await claim(limit: 4, now: 10)
        let p = node(c1, "p")!, r = node(c1, "r")!, s = node(c1, "s")!
        _ = try await complete(done(r, .succeeded(cacheHit: false)), now: 11)
        _ = try await complete(done(p, .failed(message: "p broke")), now: 12)  // fail-fast: q cancelled, s asked to stop
        #expect(try await store.heartbeat(taskID: s.snapshot.id, attempt: 1, worker: "w1", leaseSeconds: 30, now: 12.5) == .extended(cancelRequested: true))
        _ = try await complete(done(s, .failed(message: "s broke")), now: 13)  // cancel requested: cancelled
        // The mixed run: a with outputs, inputs and a cache key.
        let a = node(c1, "a")!
        _ = try await complete(done(a, .succeeded(cacheHit: false), outputs: [artifact("model", "a", size: 3), artifact("list", "b", size: 4, position: 1), artifact("list", "c", size: 5, position: 0)], inputs: [artifact("data", "d", size: 7, source: "datasets/x.csv")], key: "key-a"), now: 14)
        _ = try await complete(done(a, .succeeded(cacheHit: false)), now: 14.5)  // stale
        c1 = try await claim(only: runs[0], now: 15)
        let b = node(c1, "b")!, c = node(c1, "c")!
        _ = try await complete(done(b, .failed(message: "b flaked"), inputs: [artifact("in1", "1", size: 1, source: "a.model"), artifact("in2", "2", size: 2)]), now: 16)  // retry after a backoff
        _ = try await complete(done(c, .failed(message: "c broke")), now: 16)  // g runs (failure()), d waits on b
        let g = try #require(node(try await claim(only: runs[0], now: 16.2), "g"))  // b is not due yet
        let b2 = try #require(node(try await claim(only: runs[0], now: 30), "b"))
        _ = try await complete(done(g, worker: "intruder", .succeeded(cacheHit: false)), now: 31)  // not the owner
        _ = try await complete(done(b2, .failed(message: "b broke again"), inputs: [artifact("in1", "3", size: 3)]), now: 31)  // d, e skipped; f ready
        t.add("b inputs after its second failure: \(try await store.tasks(runID: runs[0]).first { $0.spec.nodeID == "b" }!.inputs.map(\.digest.first!))")
        let c3 = try await complete(
            done(g, .succeeded(cacheHit: true), key: "key-g"),
            then: ClaimRequest(worker: "w1", free: Capacity(cpu: 2), limit: 2, leaseSeconds: 30, onlyRun: runs[0]), now: 32
        )
        for task in c3 { _ = try await complete(done(task, .skipped(reason: "condition false")), now: 33) }
        // h needs a GPU; its worker keeps dying.
        for round in 0..<3 {
            let h = try await claim("gpu", gpus: 1, limit: 1, lease: 1, only: runs[0], now: 40 + Double(round) * 10)
            #expect(h.count == 1)
            let lapsed = try await store.expireLeases(now: 45 + Double(round) * 10)
            t.add("expired \(lapsed)")
        }
        _ = try await claim("gpu", gpus: 1, only: runs[0], now: 80)
        let second = try await claim("gpu", gpus: 1, only: runs[1], now: 81)
        for task in second { _ = try await complete(done(task, worker: "gpu", .succeeded(cacheHit: false), outputs: [artifact("model", "9", size: 9)]), now: 82) }
        // The fan: completions that arrive together commit together.
        let fan = try await claim(limit: 8, only: runs[2], now: 90)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in fan {
                let outcome: Outcome = switch task.spec.nodeID {
                case "x2": .failed(message: "x2 broke")
                case "x3": .skipped(reason: "no")
                default: .succeeded(cacheHit: false)
                }
                let completion = done(task, outcome, outputs: [artifact("o", "e", size: Int64(task.snapshot.id))], key: "fan-\(task.spec.nodeID)")
                group.addTask { _ = try await store.complete(completion, thenClaim: nil, now: 91) }
            }
            try await group.waitForAll()
        }
        _ = try await claim(now: 92)
        // The fail-fast run is retried, then the mixed one.
        t.add("b inputs before the retries: \(try await store.tasks(runID: runs[0]).first { $0.spec.nodeID == "b" }!.inputs.map(\.digest.first!))")
        try await store.retry(runID: runs[3], now: 100)
        try await store.retry(runID: runs[0], now: 101)
        var more = try await claim(limit: 20, now: 102)
        while !more.isEmpty {
            for task in more { _ = try await complete(done(task, .succeeded(cacheHit: false), outputs: [artifact("o", "f", size: 1)]), now: 103) }
            more = try await claim(limit: 20, now: 104)
        }
        // A fail-fast run whose reports all arrive together.
        var fast = subs[3]
        fast.runID = "fast-2"
        _ = try await store.submit(fast, now: 110)
        let f2 = try await claim(limit: 8, only: "fast-2", now: 111)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in f2 {
                let completion = done(task, task.spec.nodeID == "p" ? .failed(message: "boom") : .succeeded(cacheHit: false))
                group.addTask { _ = try await store.complete(completion, thenClaim: nil, now: 112) }
            }
            try await group.waitForAll()
        }
        // A lapsed lease in a fail-fast run.
        var lapse = subs[3]
        lapse.runID = "fast-3"
        _ = try await store.submit(lapse, now: 120)
        for round in 0..<3 {
            _ = try await claim("dies", limit: 1, lease: 1, only: "fast-3", now: 121 + Double(round) * 10)
            t.add("expired \(try await store.expireLeases(now: 125 + Double(round) * 10))")
        }
        _ = try await claim(limit: 8, only: "fast-3", now: 160)
        // Claims that find lapsed leases end them first: with other ready tasks, and without.
        var implied = subs[3]
        implied.runID = "implied-1"
        _ = try await store.submit(implied, now: 150)
        _ = try await claim("dies", limit: 1, lease: 1, only: "implied-1", now: 151)
        _ = try await claim("w3", limit: 8, only: "implied-1", now: 160)
        var lone = try bench.submission("version: 1\nname: lone\nsteps:\n  only: { run: 'true' }\n")
        lone.runID = "lone-1"
        _ = try await store.submit(lone, now: 161)
        _ = try await claim("dies", limit: 1, lease: 1, only: "lone-1", now: 162)
        _ = try await claim("w3", limit: 8, only: "nothing-here", now: 170)
        _ = try await claim("w4", limit: 8, only: "lone-1", now: 171)
        try await store.cancel(runID: runs[2], now: 170)
        // Whether a task that succeeded was asked to stop depends on whether its report came before the failure's.
        try await dump(store, runs: runs + ["fast-2", "fast-3", "implied-1", "lone-1"], into: t, orderFree: ["fast-2"])
        for key in ["key-a", "key-g", "fan-x1", "fan-x2", "nope"] {
            let entry = try await store.cacheEntry(key: key)
            t.add("cache \(key): \(entry.map { "\($0.nodeID) \($0.createdAt) \($0.outputs)" } ?? "-")")
        }
        t.add("digests \(try await store.referencedDigests().sorted())")
        return t.lines
    }

    @Test func bothStoresLeaveTheSameTranscript() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let subs = [
            try bench.submission(Self.mixed),
            try bench.submission(Self.mixed),
            try bench.submission(Self.fan),
            try bench.submission(Self.pair, options: Submitter.Options(priority: 5, failFast: true)),
        ]
        // The first two differ only by id; the fan's and the pair's ids are fixed.
        var fixed = subs
        fixed[0].runID = "mixed-1"
        fixed[1].runID = "mixed-2"
        fixed[2].runID = "fan-1"
        fixed[3].runID = "pair-1"
        let sqlite = try SQLiteStore(path: "\(bench.folder)/eq.sqlite")
        let postgres = try await PostgresStore(url: try PostgresServer.shared().database())
        let expected = try await Self.script(sqlite, fixed, bench: bench)
        let actual = try await Self.script(postgres, fixed, bench: bench)
        await postgres.close()
        try expected.joined(separator: "\n").write(toFile: "/tmp/pgwork/transcript-sqlite.txt", atomically: true, encoding: .utf8)
        try actual.joined(separator: "\n").write(toFile: "/tmp/pgwork/transcript-postgres.txt", atomically: true, encoding: .utf8)
        #expect(expected == actual)
    }

    static let shop = """
        version: 1
        name: shop
        steps:
          s0: { run: 'true' }
          s1: { run: 'true', resources: { cpu: 2 } }
          s2: { run: 'true', resources: { gpu: 1 } }
          s3: { run: 'true' }
          s4: { run: 'true', resources: { labels: [a100] } }
          s5: { run: 'true', resources: { cpu: 3 } }
          s6: { run: 'true' }
          s7: { run: 'true', resources: { cpu: 2, gpu: 1 } }
          s8: { run: 'true' }
          s9: { run: 'true' }
          t0: { run: 'true', needs: [s0] }
          t1: { run: 'true', needs: [s0, s3] }
          t2: { run: 'true', needs: [s3] }
        """

    /// Completions that come together with claims: the claims, made together after all the
    /// completions, take what the same claims one after another would.
    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func claimsMadeTogetherTakeWhatClaimsOneAfterAnotherWould(seed: Int) async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        var subs: [Submission] = []
        for (index, priority) in [0, 3, 0, 1].enumerated() {
            var sub = try bench.submission(Self.shop, options: Submitter.Options(priority: priority))
            sub.runID = "shop-\(index)"
            subs.append(sub)
        }
        var random = SplitMix(seed: UInt64(seed))
        let count = 7
        let requests = (0..<count).map { index in
            ClaimRequest(
                worker: "lane\(index)",
                free: Capacity(cpu: Double(random.next() % 4), gpus: Int(random.next() % 2), labels: random.next() % 3 == 0 ? ["a100"] : []),
                limit: Int(random.next() % 4), leaseSeconds: 30,
                onlyRun: random.next() % 3 == 0 ? "shop-\(random.next() % 4)" : nil
            )
        }
        func outcome(_ index: Int) -> Outcome { index % 3 == 1 ? .failed(message: "no") : .succeeded(cacheHit: false) }
        func describeAll(_ claims: [[ClaimedTask]]) -> [String] {
            claims.map { $0.map { "\($0.snapshot.runID)/\($0.spec.nodeID)#\($0.snapshot.attempt)@\($0.snapshot.leaseExpires ?? -1)" }.joined(separator: " ") }
        }

        // One after another, on SQLite.
        let sqlite = try SQLiteStore(path: "\(bench.folder)/eq.sqlite")
        for sub in subs { _ = try await sqlite.submit(sub, now: 0) }
        let running = try await sqlite.claim(worker: "w0", free: Capacity(cpu: 100, gpus: 10, labels: ["a100"]), limit: count + 1, leaseSeconds: 30, now: 1)
        try #require(running.count == count + 1)
        for (index, task) in running.enumerated() {
            try await sqlite.complete(Completion(taskID: task.snapshot.id, attempt: 1, worker: "w0", outcome: outcome(index), startedAt: 1), now: 2 + Double(index))
        }
        var expected: [[ClaimedTask]] = []
        for (index, request) in requests.enumerated() { expected.append(try await sqlite.claim(request, now: 3 + Double(index))) }

        // Together, on PostgreSQL: another change holds the lock while the reports queue up.
        let url = try PostgresServer.shared().database()
        let postgres = try await PostgresStore(url: url)
        let holder = try await PostgresStore(url: url)
        for sub in subs { _ = try await postgres.submit(sub, now: 0) }
        let pgRunning = try await postgres.claim(worker: "w0", free: Capacity(cpu: 100, gpus: 10, labels: ["a100"]), limit: count + 1, leaseSeconds: 30, now: 1)
        #expect(pgRunning.map(\.snapshot.id) == running.map(\.snapshot.id))
        let actual = try await withThrowingTaskGroup(of: (Int, [ClaimedTask]).self) { group in
            group.addTask {
                try await holder.change { _ in try await Task.sleep(for: .milliseconds(600)) }
                return (-1, [])
            }
            try await Task.sleep(for: .milliseconds(100))
            for (index, task) in pgRunning.enumerated() {
                let completion = Completion(taskID: task.snapshot.id, attempt: 1, worker: "w0", outcome: outcome(index), startedAt: 1)
                let request = index == 0 ? nil : requests[index - 1]
                group.addTask {
                    (index - 1, try await postgres.complete(completion, thenClaim: request, now: 2 + Double(index)))
                }
                try await Task.sleep(for: .milliseconds(40))
            }
            var results = [[ClaimedTask]](repeating: [], count: count)
            for try await (index, claimed) in group where index >= 0 { results[index] = claimed }
            return results
        }
        await postgres.close()
        await holder.close()
        // The times differ (each claim in the batch has its completion's time), so compare the rest.
        let strip: ([String]) -> [String] = { $0.map { $0.replacingOccurrences(of: #"@[0-9.-]+"#, with: "", options: .regularExpression) } }
        #expect(strip(describeAll(actual)) == strip(describeAll(expected)), "requests \(requests)")
        #expect(actual.flatMap { $0 }.count > 0)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
