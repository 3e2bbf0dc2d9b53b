import Engine
import Foundation
import PipelineLanguage
import Testing

/// Runs through the store, the executor and an in-process worker.
@Suite struct EngineTests {
    static let training = """
        version: 1
        name: train-small
        steps:
          gen:
            uses: data/generate
            with: { kind: classification, rows: 300, features: 4, classes: 2, seed: 1 }
          split:
            uses: data/split
            with: { input: "${{ steps.gen.outputs.dataset }}", train: 0.8, test: 0.2 }
          train:
            uses: train/logistic
            with: { train: "${{ steps.split.outputs.train }}", epochs: 20 }
          evaluate:
            uses: eval/classification
            with: { model: "${{ steps.train.outputs.model }}", data: "${{ steps.split.outputs.test }}" }
          good:
            if: steps.evaluate.outputs.metrics.accuracy >= 0.5
            run: echo good > ${{ outputs.note }}
            outputs: { note: file }
          bad:
            if: steps.evaluate.outputs.metrics.accuracy > 1.5
            run: echo never
        """

    @Test func aPipelineRunsToTheEndWithItsRecord() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let runID = try await bench.submit(Self.training)
        let tasks = try await bench.runToEnd(runID)
        #expect(try await bench.state(runID) == .succeeded)
        #expect(tasks["train"]?.snapshot.state == .succeeded)
        #expect(tasks["good"]?.snapshot.state == .succeeded)
        #expect(try tasks["good"].map { try bench.read($0.outputs[0]) } == "good\n")
        #expect(tasks["bad"]?.snapshot.state == .skipped)
        #expect(tasks["bad"]?.snapshot.message == "condition is false: steps.evaluate.outputs.metrics.accuracy > 1.5")
        // Inputs are recorded with their producers, and outputs by digest.
        let evaluate = try #require(tasks["evaluate"])
        #expect(Set(evaluate.inputs.map(\.source)) == ["train.model", "split.test"])
        #expect(evaluate.inputs.first { $0.source == "train.model" }?.digest == tasks["train"]?.outputs.first { $0.name == "model" }?.digest)
        #expect(try await bench.store.run(runID)?.state == .succeeded)
        // The attempt folder keeps what ran.
        let folder = bench.workspace.attemptFolder(run: runID, node: "train", attempt: 1)
        let record = try String(contentsOfFile: "\(folder)/op.txt", encoding: .utf8)
        #expect(record.contains("op: train/logistic@1"))
        #expect(FileManager.default.fileExists(atPath: "\(folder)/progress.jsonl"))
    }

    @Test func aSecondRunReusesEveryOutputAndNoCacheRunsAgain() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let first = try await bench.runToEnd(try await bench.submit(Self.training))
        let secondID = try await bench.submit(Self.training)
        let second = try await bench.runToEnd(secondID)
        for node in ["gen", "split", "train", "evaluate", "good"] {
            #expect(second[node]?.cacheHit == true, "\(node)")
            #expect(second[node]?.outputs.map(\.digest) == first[node]?.outputs.map(\.digest))
        }
        let third = try await bench.runToEnd(try await bench.submit(Self.training, options: Submitter.Options(noCache: true)))
        #expect(third.values.allSatisfy { !$0.cacheHit })
        // The built-in ops are deterministic: the same bytes again.
        #expect(third["train"]?.outputs.map(\.digest) == first["train"]?.outputs.map(\.digest))
    }

    @Test func aCorruptArtifactIsReportedNotRead() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = """
            version: 1
            name: corrupt
            steps:
              gen:
                uses: data/generate
                with: { kind: blobs, rows: 50, features: 2 }
              use:
                run: cat ${{ inputs.data }} > /dev/null
                inputs: { data: "${{ steps.gen.outputs.dataset }}" }
            """
        let first = try await bench.runToEnd(try await bench.submit(yaml))
        let digest = try #require(first["gen"]?.outputs.first?.digest)
        let path = bench.workspace.artifacts.path(of: digest)
        chmod(path, 0o644)
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: path))
        let runID = try await bench.submit(yaml, options: Submitter.Options(noCache: false))
        let tasks = try await bench.runToEnd(runID)
        // gen hits the cache, but its file no longer has its digest: use fails and says so.
        #expect(tasks["use"]?.snapshot.state == .failed)
        #expect(tasks["use"]?.snapshot.message?.contains("artifact \(digest.prefix(12)) is corrupt") == true)
    }

    @Test func aFailureSkipsItsDependantsWhileOtherBranchesGoOn() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = """
            version: 1
            name: branches
            steps:
              broken:
                run: echo oops >&2; exit 3
              after:
                needs: broken
                run: echo after
              report:
                needs: broken
                if: failure()
                run: echo reporting
              independent:
                run: sleep 0.3
              later:
                needs: independent
                run: echo later
            """
        let runID = try await bench.submit(yaml)
        let tasks = try await bench.runToEnd(runID)
        #expect(try await bench.state(runID) == .failed)
        #expect(tasks["broken"]?.snapshot.state == .failed)
        #expect(tasks["broken"]?.snapshot.message?.contains("exited with status 3") == true)
        #expect(tasks["broken"]?.snapshot.message?.contains("oops") == true)
        #expect(tasks["after"]?.snapshot.state == .skipped)
        #expect(tasks["report"]?.snapshot.state == .succeeded)
        #expect(tasks["later"]?.snapshot.state == .succeeded)

        // Retrying runs what did not succeed and keeps what did.
        let laterAttempt = tasks["later"]?.snapshot.attempt
        try await bench.store.retry(runID: runID, now: Date().timeIntervalSince1970)
        let again = try await bench.runToEnd(runID)
        #expect(again["broken"]?.snapshot.state == .failed)
        // Attempt numbers go on: the retried step's second try is attempt 2, with its own folder.
        #expect(again["broken"]?.snapshot.attempt == 2)
        #expect(FileManager.default.fileExists(atPath: bench.workspace.attemptFolder(run: runID, node: "broken", attempt: 1) + "/stderr.log"))
        #expect(again["later"]?.snapshot.attempt == laterAttempt)
        #expect(again["later"]?.snapshot.state == .succeeded)
    }

    @Test func failFastCancelsTheRest() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = """
            version: 1
            name: fail-fast
            steps:
              broken:
                run: exit 1
              slow:
                run: sleep 120
              waiting:
                needs: slow
                run: echo never
            """
        let runID = try await bench.submit(yaml, options: Submitter.Options(failFast: true))
        let started = Date()
        let tasks = try await bench.runToEnd(runID)
        // Well before the 120 s sleep would end. The margin is for a suite whose other tests hold
        // the cooperative pool's threads for seconds at a time (waiting for processes).
        #expect(Date().timeIntervalSince(started) < 90)
        #expect(try await bench.state(runID) == .failed)
        #expect(tasks["slow"]?.snapshot.state == .cancelled)
        #expect(tasks["waiting"]?.snapshot.state == .cancelled)
    }

    @Test func aTimeoutStopsTheCommandAndCountsAsAFailure() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = """
            version: 1
            name: timeout
            steps:
              slow:
                run: trap '' TERM; sleep 120
                timeout: 1s
            """
        let started = Date()
        let runID = try await bench.submit(yaml)
        let tasks = try await bench.runToEnd(runID, worker: {
            let worker = bench.worker()
            return worker
        }())
        // SIGTERM is ignored by the shell, so SIGKILL ends it after the grace period (1 s + 5 s),
        // well before its 120 s sleep would. The margin is for a suite whose other tests hold the
        // cooperative pool's threads for seconds at a time (waiting for processes).
        #expect(Date().timeIntervalSince(started) < 90)
        #expect(tasks["slow"]?.snapshot.state == .failed)
        #expect(tasks["slow"]?.snapshot.message == "timed out after 1.0s")
    }

    @Test func retriesBackOffAndSucceed() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let marker = "\(bench.folder)/tries"
        let yaml = """
            version: 1
            name: flaky
            steps:
              flaky:
                run: echo x >> \(marker); test $(wc -l < \(marker)) -ge 3
                retry: { attempts: 3, backoff: { initial: 200ms, factor: 2 } }
            """
        let runID = try await bench.submit(yaml)
        let tasks = try await bench.runToEnd(runID)
        #expect(tasks["flaky"]?.snapshot.state == .succeeded)
        #expect(tasks["flaky"]?.snapshot.attempt == 3)
        let attempts = try await bench.store.attempts(taskID: try #require(tasks["flaky"]).snapshot.id)
        #expect(attempts.map(\.outcome) == ["failed", "failed", "succeeded"])
        // Each retry waited at least half its backoff (equal jitter): 0.1 s, then 0.2 s.
        #expect(attempts[1].startedAt - attempts[0].finishedAt! >= 0.1)
        #expect(attempts[2].startedAt - attempts[1].finishedAt! >= 0.2)
    }

    @Test func cancellingARunStopsItsRunningCommand() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = """
            version: 1
            name: cancel
            steps:
              slow:
                run: sleep 120
              next:
                needs: slow
                run: echo never
            """
        let runID = try await bench.submit(yaml)
        let store = bench.store
        Task {
            try await Task.sleep(for: .milliseconds(500))
            try await store.cancel(runID: runID, now: Date().timeIntervalSince1970)
        }
        let started = Date()
        let tasks = try await bench.runToEnd(runID, worker: bench.worker(lease: 3))
        // Well before the 120 s sleep would end. The margin is for a suite whose other tests hold
        // the cooperative pool's threads for seconds at a time (waiting for processes).
        #expect(Date().timeIntervalSince(started) < 90)
        #expect(try await bench.state(runID) == .cancelled)
        #expect(tasks["slow"]?.snapshot.state == .cancelled)
        #expect(tasks["next"]?.snapshot.state == .cancelled)
    }

    @Test func whatACommandLeavesRunningEndsWithIt() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let pidFile = "\(bench.folder)/left"
        let runID = try await bench.submit("""
            version: 1
            name: leftover
            steps:
              detach:
                run: sleep 60 > /dev/null 2>&1 & echo $! > \(pidFile)
            """)
        let tasks = try await bench.runToEnd(runID, worker: bench.worker())
        #expect(tasks["detach"]?.snapshot.state == .succeeded)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try #require(pid_t(text))
        // The background sleep was in the command's process group, which is killed when it ends.
        #expect(try await poll(seconds: 10) { !Self.isRunning(pid) })
    }

    /// Whether a process exists and is not a zombie waiting to be reaped.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(close, offsetBy: 2)] != "Z"
    }

    @Test func aGPUTaskGetsExactlyItsGPUs() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = """
            version: 1
            name: gpus
            steps:
              one:
                run: echo "$CUDA_VISIBLE_DEVICES" > ${{ outputs.seen }}
                outputs: { seen: file }
                resources: { gpu: 1 }
                cache: false
              two:
                run: echo "$CUDA_VISIBLE_DEVICES" > ${{ outputs.seen }}
                outputs: { seen: file }
                resources: { gpu: 2 }
                cache: false
              none:
                run: echo "[$CUDA_VISIBLE_DEVICES]" > ${{ outputs.seen }}
                outputs: { seen: file }
            """
        let runID = try await bench.submit(yaml)
        let tasks = try await bench.runToEnd(runID, worker: bench.worker(concurrency: 1, gpus: ["0", "1"]))
        #expect(try bench.read(try #require(tasks["one"]?.outputs.first)) == "0\n")
        #expect(try bench.read(try #require(tasks["two"]?.outputs.first)) == "0,1\n", "\(tasks.mapValues { try? bench.read($0.outputs[0]) })")
        #expect(try bench.read(try #require(tasks["none"]?.outputs.first)) == "[]\n")
    }

    @Test func submittingWithAnIdempotencyKeyTwiceGivesOneRun() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = "version: 1\nname: once\nsteps:\n  a:\n    run: 'true'\n"
        let options = Submitter.Options(idempotencyKey: "nightly-2026-11-27")
        let first = try await bench.store.submit(try bench.submission(yaml, options: options), now: 0)
        let second = try await bench.store.submit(try bench.submission(yaml, options: options), now: 1)
        #expect(first.created && !second.created)
        #expect(first.runID == second.runID)
        #expect(try await bench.store.runs(limit: 10).count == 1)
    }

    @Test func higherPriorityRunsAreServedFirst() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let yaml = "version: 1\nname: p\nsteps:\n  a:\n    run: 'true'\n"
        let low = try await bench.store.submit(try bench.submission(yaml), now: 0).runID
        let high = try await bench.store.submit(try bench.submission(yaml, options: Submitter.Options(priority: 5)), now: 1).runID
        let claimed = try await bench.store.claim(worker: "w", free: Capacity(cpu: 1), limit: 1, leaseSeconds: 30, now: 2)
        #expect(claimed.map(\.snapshot.runID) == [high])
        #expect(low != high)
    }

    @Test func planSaysPerStepWhetherTheCacheWouldHit() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let plan = try bench.plan(Self.training)
        let verdicts = { (noCache: Bool) in
            try await CachePreview.verdicts(
                plan: plan, projectDirectory: TestBench.projectRoot, signatures: BuiltinOps.catalogue.signatures,
                store: bench.store, artifacts: bench.workspace.artifacts, noCache: noCache
            )
        }
        let before = try await verdicts(false)
        #expect(before["gen"] == .miss(reason: "never run with these arguments and inputs"))
        #expect(before["split"] == .miss(reason: "its input from gen is not known yet (gen will run)"))
        let runID = try await bench.submit(Self.training)
        try await bench.runToEnd(runID)
        let after = try await verdicts(false)
        for node in ["gen", "split", "train", "evaluate"] {
            guard case .hit(let hitRun, let hitNode, _) = after[node] else {
                Issue.record("\(node): \(String(describing: after[node]))")
                continue
            }
            #expect(hitRun == runID && hitNode == node)
        }
        #expect(try await verdicts(true)["gen"] == .miss(reason: "--no-cache"))
    }
}

import BlacktailOps

/// An op that holds its thread for `seconds`, as a long computation does.
struct ThreadHoldingOp: Op {
    let signature = OpSignature(
        name: "test/hold", version: 1, summary: "Holds its thread.",
        arguments: [.init("seconds", .float, summary: "how long")], outputs: []
    )

    func run(_ context: OpContext) async throws {
        hold(for: try context.double("seconds"))
    }

    /// A synchronous wait, which keeps the thread as a computation would.
    private func hold(for seconds: Double) {
        usleep(useconds_t(seconds * 1_000_000))
    }
}

@Suite struct OpThreadTests {
    /// More ops than Swift's cooperative pool has threads, each computing (here, sleeping) far
    /// longer than its timeout: each runs on a thread of its own, so the worker's timers still fire.
    @Test func opsThatHoldTheirThreadsStillTimeOut() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let count = ProcessInfo.processInfo.activeProcessorCount + 1
        let catalogue = OpCatalogue(signatures: BuiltinOps.catalogue.signatures.all + [ThreadHoldingOp().signature], implementations: [ThreadHoldingOp()])
        let steps = (0..<count).map { "  hold\($0):\n    uses: test/hold\n    with: { seconds: 60 }\n    timeout: 1s\n" }.joined()
        let path = "\(bench.folder)/hold.yaml"
        try "version: 1\nname: hold\nsteps:\n\(steps)".write(toFile: path, atomically: true, encoding: .utf8)
        let compilation = PipelineCompiler(signatures: catalogue.signatures).compile(path: path)
        let plan = try #require(compilation.plan)
        let submission = Submitter.submission(
            plan: plan, pipelinePath: "hold.yaml", projectDirectory: TestBench.projectRoot, signatures: catalogue.signatures, options: Submitter.Options()
        )
        let runID = try await bench.store.submit(submission, now: Date().timeIntervalSince1970).runID
        var configuration = Worker.Configuration(concurrency: count, cpu: Double(count))
        configuration.pollSeconds = 0.05
        let worker = Worker(store: bench.store, executor: TaskExecutor(workspace: bench.workspace, catalogue: catalogue), configuration: configuration)
        let started = Date()
        let tasks = try await bench.runToEnd(runID, worker: worker)
        // Long before the ops would return by themselves (60 s), with a margin for a busy suite.
        #expect(Date().timeIntervalSince(started) < 40)
        #expect(tasks.values.allSatisfy { $0.snapshot.message == "timed out after 1.0s" })
    }
}
