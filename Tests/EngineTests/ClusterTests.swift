import Cluster
import Engine
import Foundation
import Testing

/// A cluster on loopback made of real processes: a coordinator (`blacktail serve`) over SQLite or
/// a PostgreSQL server of the test's own, agents (`blacktail agent`), and a client
/// (`blacktail submit --coordinator`).
final class ClusterBench: @unchecked Sendable {
    let folder: String
    let home: Workspace
    let storeURL: String?
    let port: Int
    private var processes: [String: Process] = [:]

    init(postgres: String? = nil) throws {
        folder = NSTemporaryDirectory() + "blacktail-cluster-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        home = Workspace(home: "\(folder)/coordinator")
        storeURL = postgres
        port = try PostgresServer.freePort()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    deinit {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    var storeArguments: [String] { ["--home", home.root] + (storeURL.map { ["--store", $0] } ?? []) }

    /// Runs `blacktail` to its end.
    @discardableResult
    func blacktail(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ReliabilityTests.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: TestBench.projectRoot)
        let output = "\(folder)/command-\(UUID().uuidString).out"
        let error = output + ".err"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: error, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: error)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, text(output), text(error))
    }

    /// Starts `blacktail` in the background, its output in `NAME.out` and `NAME.err`.
    @discardableResult
    func start(_ name: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ReliabilityTests.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: TestBench.projectRoot)
        _ = FileManager.default.createFile(atPath: "\(folder)/\(name).out", contents: nil)
        _ = FileManager.default.createFile(atPath: "\(folder)/\(name).err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(folder)/\(name).out")
        process.standardError = FileHandle(forWritingAtPath: "\(folder)/\(name).err")
        try process.run()
        processes[name] = process
        return process
    }

    func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    func output(_ name: String) -> String { text("\(folder)/\(name).out") + text("\(folder)/\(name).err") }

    /// Starts the coordinator and waits until it listens.
    func startCoordinator(name: String = "coordinator", port: Int? = nil, arguments: [String] = []) async throws {
        try start(name, ["serve", "--listen", "127.0.0.1:\(port ?? self.port)", "--schedule-interval", "0"] + storeArguments + arguments)
        let listening = try await poll(seconds: 60) { self.text("\(self.folder)/\(name).out").contains("listening on") }
        if !listening { throw PostgresServerError("the coordinator did not start:\n\(output(name))") }
    }

    /// Signals a process and waits for it to end, without holding a thread of the cooperative pool.
    func stop(_ name: String, signal: Int32 = SIGTERM) async {
        guard let process = processes[name] else { return }
        kill(process.processIdentifier, signal)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        process.waitUntilExit()
    }

    func process(_ name: String) -> Process? { processes[name] }

    /// Adds a node; its token's file.
    func addNode(_ name: String, client: Bool = false) throws -> String {
        let file = "\(folder)/\(name).token"
        let result = try blacktail(["nodes", "add", name, "--token-file", file] + (client ? ["--client"] : []) + storeArguments)
        if result.status != 0 { throw PostgresServerError("nodes add \(name) failed: \(result.error)") }
        return file
    }

    @discardableResult
    func startAgent(_ name: String, gpus: String = "none", concurrency: Int = 2, lease: Int = 2, coordinator: String? = nil) throws -> Process {
        let token = try addNode(name)
        return try start(name, [
            "agent", "--coordinator", coordinator ?? url, "--token", token, "--work-dir", "\(folder)/\(name)-work", "--gpus", gpus,
            "--concurrency", "\(concurrency)", "--cpus", "\(concurrency)", "--lease", "\(lease)",
        ])
    }

    /// Submits pipeline text through the coordinator as client `name`; the run's id.
    func submit(_ yaml: String, client: String = "client", arguments: [String] = []) throws -> String {
        let file = "\(folder)/pipeline-\(UUID().uuidString.prefix(8)).yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        return try submit(file: file, client: client, arguments: arguments)
    }

    func submit(file: String, client: String = "client", arguments: [String] = []) throws -> String {
        let token = "\(folder)/\(client).token"
        if !FileManager.default.fileExists(atPath: token) { _ = try addNode(client, client: true) }
        let result = try blacktail(["submit", file, "--coordinator", url, "--token", token, "--home", "\(folder)/\(client)-home"] + arguments)
        guard result.status == 0, let runID = result.output.split(separator: "\n").last.map(String.init) else {
            throw PostgresServerError("submit failed: \(result.error)")
        }
        return runID
    }

    /// The coordinator's store, opened here to check what it holds.
    func withStore<T>(_ body: (any RunStore) async throws -> T) async throws -> T {
        if let storeURL {
            let store = try await PostgresStore(url: storeURL)
            do {
                let value = try await body(store)
                await store.close()
                return value
            } catch {
                await store.close()
                throw error
            }
        }
        return try await body(try SQLiteStore(path: home.storePath))
    }

    func tasks(_ runID: String) async throws -> [String: TaskRecord] {
        try await withStore { store in
            Dictionary(uniqueKeysWithValues: try await store.tasks(runID: runID).map { ($0.spec.nodeID, $0) })
        }
    }

    /// Waits for the run to finish and expects it to have succeeded; when it has not, the failure
    /// names each task's state, attempt and message, and what the named processes printed.
    func expectSuccess(_ runID: String, printed names: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: TaskRecord] {
        let state = try await finish(runID, seconds: 120)
        let tasks = try await self.tasks(runID)
        let states = tasks.keys.sorted().map { "\($0) \(tasks[$0]!.snapshot.state) attempt \(tasks[$0]!.snapshot.attempt) \(tasks[$0]!.snapshot.message ?? "")" }
        #expect(
            state == .succeeded,
            "tasks: \(states.joined(separator: "; "))\n\(names.map { "\($0): \(output($0).suffix(3_000))" }.joined(separator: "\n"))",
            sourceLocation: sourceLocation
        )
        return tasks
    }

    /// Waits for the run to finish; its state.
    func finish(_ runID: String, seconds: Double = 120) async throws -> RunState? {
        var state: RunState?
        _ = try await poll(seconds: seconds) {
            state = try await self.withStore { try await $0.runState(runID) }
            return state?.isFinished == true
        }
        return state
    }

    func read(_ record: ArtifactRecord?) throws -> String {
        let record = try #require(record)
        return try String(contentsOfFile: try home.artifacts.verifiedPath(record.digest), encoding: .utf8)
    }

    func lines(_ path: String) -> [String] {
        text(path).split(separator: "\n").map(String.init)
    }

    func client(token file: String) throws -> CoordinatorClient {
        try CoordinatorClient(url: url, token: try CoordinatorClient.token(file: file))
    }
}

@Suite(.serialized) struct ClusterTests {
    @Test func aPipelineRunsAcrossAgentsWithItsFilesAndGPUs() async throws {
        let bench = try ClusterBench(postgres: try await PostgresServer.shared().database())
        try await bench.startCoordinator()
        try bench.startAgent("cpu-a")
        try bench.startAgent("cpu-b")
        try bench.startAgent("gpu-node", gpus: "0,1")
        var yaml = """
            version: 1
            name: across
            steps:
              source:
                run: echo hello from $(hostname); seq 1 20000 > ${{ outputs.numbers }}
                outputs: { numbers: file }
              gpu:
                run: echo "$CUDA_VISIBLE_DEVICES" > ${{ outputs.seen }}
                outputs: { seen: file }
                resources: { gpu: 1 }
              sink:
                run: cat ${{ inputs.parts }} > ${{ outputs.all }}
                inputs: { parts: [
            """
        yaml += (0..<6).map { "\"${{ steps.part\($0).outputs.count }}\"" }.joined(separator: ", ") + "] }\n    outputs: { all: file }\n"
        for index in 0..<6 {
            yaml += """
                  part\(index):
                    run: sleep 0.5; echo "part \(index) $(wc -l < ${{ inputs.numbers }})" > ${{ outputs.count }}
                    inputs: { numbers: "${{ steps.source.outputs.numbers }}" }
                    outputs: { count: file }

                """
        }
        let runID = try bench.submit(yaml)
        #expect(try await bench.finish(runID) == .succeeded, "\(bench.output("coordinator"))")
        let tasks = try await bench.tasks(runID)
        // The GPU task ran on the only node with GPUs, with exactly one of them.
        #expect(tasks["gpu"]?.worker == "gpu-node")
        #expect(["0\n", "1\n"].contains(try bench.read(tasks["gpu"]?.outputs.first)))
        // Every part read the source's file, fetched by digest wherever it ran.
        #expect(try bench.read(tasks["sink"]?.outputs.first) == (0..<6).map { "part \($0) 20000\n" }.joined())
        #expect(Set(tasks.values.compactMap(\.worker)).count >= 2)
        #expect(tasks.values.allSatisfy { $0.snapshot.attempt == 1 })
        // The logs came back to the coordinator's home.
        let log = bench.home.attemptFolder(run: runID, node: "source", attempt: 1) + "/command.sh"
        #expect(bench.text(log).contains("seq 1 20000"))
        // The client reads the run through the coordinator.
        let status = try bench.blacktail(["status", runID, "--coordinator", bench.url, "--token", "\(bench.folder)/client.token"])
        #expect(status.status == 0)
        #expect(status.output.contains("succeeded") && status.output.contains("on gpu-node"))
        let logs = try bench.blacktail(["logs", runID, "source", "--coordinator", bench.url, "--token", "\(bench.folder)/client.token"])
        #expect(logs.output == "source [stdout] hello from \(ProcessInfo.processInfo.hostName)\n", "\(logs.error)")
        let nodes = try bench.blacktail(["nodes", "list"] + bench.storeArguments).output
        #expect(nodes.contains("gpu-node  agent  active  GPUs 0,1  seen"))
        #expect(nodes.contains("client  client  active  no GPUs  never seen"))
    }

    @Test func aRunOnPostgresThroughAgentsIsBitForBitTheLocalOne() async throws {
        let bench = try ClusterBench(postgres: try await PostgresServer.shared().database())
        try await bench.startCoordinator()
        try bench.startAgent("one")
        try bench.startAgent("two")
        // The project's CSV travels to the coordinator as an artifact; the agents never see the folder.
        let runID = try bench.submit(file: "pipelines/iris-classifier.yaml", arguments: ["-p", "publish=false"])
        #expect(try await bench.finish(runID) == .succeeded, "\(bench.output("coordinator"))")
        let remote = try await bench.tasks(runID)

        let local = try TestBench()
        defer { local.remove() }
        let yaml = try String(contentsOfFile: TestBench.projectRoot + "/pipelines/iris-classifier.yaml", encoding: .utf8)
        let localRun = try await local.store.submit(local.submission(yaml, parameters: [(name: "publish", value: "false")]), now: Date().timeIntervalSince1970).runID
        let tasks = try await local.runToEnd(localRun)
        for node in ["prep", "split", "scale", "train", "evaluate"] {
            let digests = try #require(remote[node]?.outputs.map(\.digest))
            #expect(!digests.isEmpty)
            #expect(digests == tasks[node]?.outputs.map(\.digest), "\(node)")
        }
        #expect(remote["prep"]?.inputs.first?.source == "datasets/iris.csv")

        // The same run again: every step's outputs come from the coordinator's cache.
        let again = try bench.submit(file: "pipelines/iris-classifier.yaml", arguments: ["-p", "publish=false"])
        #expect(try await bench.finish(again) == .succeeded)
        let cached = try await bench.tasks(again)
        for node in ["prep", "split", "scale", "train", "evaluate"] {
            #expect(cached[node]?.cacheHit == true, "\(node)")
            #expect(cached[node]?.outputs.map(\.digest) == remote[node]?.outputs.map(\.digest))
        }
    }

    @Test func aKilledAgentsTaskCompletesElsewhereExactlyOnce() async throws {
        let bench = try ClusterBench(postgres: try await PostgresServer.shared().database())
        try await bench.startCoordinator()
        let mark = "\(bench.folder)/mark"
        let gate = Gate(folder: bench.folder)
        try bench.startAgent("first", concurrency: 1)
        let runID = try bench.submit("""
            version: 1
            name: killed
            steps:
              slow:
                run: echo start >> \(mark); \(gate.shellWait); echo done >> \(mark); echo out > ${{ outputs.result }}
                outputs: { result: file }
              after:
                run: cat ${{ inputs.r }} > ${{ outputs.copy }}
                inputs: { r: "${{ steps.slow.outputs.result }}" }
                outputs: { copy: file }
            """)
        #expect(try await poll(seconds: 30) { bench.lines(mark) == ["start"] })
        await bench.stop("first", signal: SIGKILL)
        // Had the killed attempt's command outlived its agent, it would now write "done" too.
        gate.open()
        try bench.startAgent("second", concurrency: 1)
        #expect(try await bench.finish(runID) == .succeeded)
        try await Task.sleep(for: .seconds(1))
        #expect(bench.lines(mark) == ["start", "start", "done"])
        let tasks = try await bench.tasks(runID)
        let slow = try #require(tasks["slow"])
        #expect(slow.worker == "second")
        let outcomes = try await bench.withStore { try await $0.attempts(taskID: slow.snapshot.id).map(\.outcome) }
        #expect(outcomes == ["lost", "succeeded"])
        #expect(try bench.read(tasks["after"]?.outputs.first) == "out\n")
    }

    @Test func aStoppedAgentsLateReportIsRefused() async throws {
        let bench = try ClusterBench(postgres: try await PostgresServer.shared().database())
        try await bench.startCoordinator()
        let mark = "\(bench.folder)/mark"
        let frozen = try bench.startAgent("frozen", concurrency: 1)
        let runID = try bench.submit("""
            version: 1
            name: stopped
            steps:
              slow:
                run: echo start >> \(mark); sleep 2; echo $$ > ${{ outputs.result }}
                outputs: { result: file }
            """)
        #expect(try await poll(seconds: 30) { bench.lines(mark) == ["start"] })
        kill(frozen.processIdentifier, SIGSTOP)
        try bench.startAgent("thawed", concurrency: 1)
        #expect(try await bench.finish(runID) == .succeeded)
        let before = try #require(try await bench.tasks(runID)["slow"])
        #expect(before.worker == "thawed")
        kill(frozen.processIdentifier, SIGCONT)
        #expect(try await poll(seconds: 60) { bench.output("frozen").contains("refused") || bench.output("frozen").contains("lost its lease") })
        let after = try #require(try await bench.tasks(runID)["slow"])
        #expect(after.snapshot.attempt == 2)
        #expect(after.outputs == before.outputs)
        let outcomes = try await bench.withStore { try await $0.attempts(taskID: after.snapshot.id).map(\.outcome) }
        #expect(outcomes == ["lost", "succeeded"])
    }

    /// Two coordinators of one PostgreSQL store: a run submitted through one wakes the claim of
    /// an agent waiting at the other at once (LISTEN/NOTIFY), not at its next poll (30 s here).
    @Test func aSubmissionThroughOneCoordinatorWakesAgentsWaitingAtAnother() async throws {
        let bench = try ClusterBench(postgres: try await PostgresServer.shared().database())
        try await bench.startCoordinator(arguments: ["--poll-interval", "30"])
        let other = try PostgresServer.freePort()
        try await bench.startCoordinator(name: "other", port: other, arguments: ["--poll-interval", "30"])
        try bench.startAgent("waiting", coordinator: "http://127.0.0.1:\(other)")
        // Let the agent's claim reach the other coordinator and wait there.
        try await Task.sleep(for: .seconds(2))
        let runID = try bench.submit("version: 1\nname: woken\nsteps:\n  quick:\n    run: \"true\"\n")
        let submitted = Date()
        #expect(try await bench.finish(runID, seconds: 60) == .succeeded)
        // When it ended, as the coordinator recorded it: this test process may be slow to look.
        let quick = try await bench.tasks(runID)["quick"]
        #expect((quick?.finishedAt ?? .infinity) - submitted.timeIntervalSince1970 < 8)
        #expect(quick?.worker == "waiting")
    }

    @Test func anAgentAskedToStopFinishesItsTaskFirst() async throws {
        let bench = try ClusterBench()
        try await bench.startCoordinator()
        let mark = "\(bench.folder)/mark"
        let gate = Gate(folder: bench.folder)
        let agent = try bench.startAgent("leaving", concurrency: 1, lease: 30)
        let runID = try bench.submit("""
            version: 1
            name: graceful
            steps:
              slow:
                run: echo start >> \(mark); \(gate.shellWait); echo done >> \(mark); echo out > ${{ outputs.result }}
                outputs: { result: file }
              next:
                run: echo next >> \(mark)
                needs: slow
            """)
        #expect(try await poll(seconds: 30) { bench.lines(mark) == ["start"] })
        kill(agent.processIdentifier, SIGTERM)
        #expect(try await poll(seconds: 30) { bench.output("leaving").contains("stopping") })
        gate.open()
        #expect(try await poll(seconds: 30) { !agent.isRunning })
        #expect(agent.terminationStatus == 0)
        // The task it held finished and was reported; it took nothing more.
        #expect(bench.lines(mark) == ["start", "done"])
        let tasks = try await bench.tasks(runID)
        #expect(tasks["slow"]?.snapshot.state == .succeeded && tasks["slow"]?.snapshot.attempt == 1)
        #expect(tasks["next"]?.snapshot.state == .ready)
        #expect(bench.output("leaving").contains("stopped"))
    }

    /// A task that ends while the coordinator's database is down sends its outputs and reports
    /// once the database is back, instead of failing: the agent's calls wait for it, and a call
    /// cut off by the outage is retried.
    @Test func aTaskThatEndsWhilePostgresIsDownSendsItsResultsWhenItIsBack() async throws {
        let server = try await PostgresServer.dedicated()
        defer { try? server.stop() }
        let bench = try ClusterBench(postgres: try await server.database())
        try await bench.startCoordinator()
        let mark = "\(bench.folder)/mark"
        let gate = Gate(folder: bench.folder)
        try bench.startAgent("patient", concurrency: 1, lease: 60)
        let runID = try bench.submit("""
            version: 1
            name: outage
            steps:
              first:
                run: echo 1 > ${{ outputs.n }}; echo start >> \(mark); \(gate.shellWait)
                outputs: { n: file }
              second:
                run: cat ${{ inputs.n }} > ${{ outputs.copy }}
                inputs: { n: "${{ steps.first.outputs.n }}" }
                outputs: { copy: file }
            """)
        #expect(try await poll(seconds: 30) { bench.lines(mark) == ["start"] })
        try await server.halt()
        gate.open()
        // The task has ended; its outputs and report wait for the database.
        try await Task.sleep(for: .seconds(2))
        try await server.start()
        let tasks = try await bench.expectSuccess(runID, printed: ["patient"])
        #expect(tasks["first"]?.snapshot.attempt == 1)
        #expect(try bench.read(tasks["second"]?.outputs.first) == "1\n")
    }

    @Test func aRunSurvivesRestartsOfTheCoordinatorAndOfPostgres() async throws {
        let server = try await PostgresServer.dedicated()
        defer { try? server.stop() }
        let bench = try ClusterBench(postgres: try await server.database())
        try await bench.startCoordinator()
        try bench.startAgent("steady", concurrency: 1, lease: 10)
        var yaml = "version: 1\nname: restarts\nsteps:\n"
        yaml += "  s0:\n    run: sleep 1; echo 0 > ${{ outputs.n }}\n    outputs: { n: file }\n"
        for index in 1..<6 {
            yaml += "  s\(index):\n    run: sleep 1; echo $(( $(cat ${{ inputs.p }}) + 1 )) > ${{ outputs.n }}\n"
            yaml += "    inputs: { p: \"${{ steps.s\(index - 1).outputs.n }}\" }\n    outputs: { n: file }\n"
        }
        let runID = try bench.submit(yaml)
        #expect(try await poll(seconds: 30) { try await bench.tasks(runID)["s1"]?.snapshot.state == .succeeded })
        await bench.stop("coordinator")
        try await Task.sleep(for: .seconds(1.5))
        try await bench.startCoordinator(name: "coordinator-2")
        #expect(try await poll(seconds: 30) { try await bench.tasks(runID)["s3"]?.snapshot.state == .succeeded })
        try await server.restart()
        let tasks = try await bench.expectSuccess(runID, printed: ["steady", "coordinator-2"])
        #expect(try bench.read(tasks["s5"]?.outputs.first) == "5\n")
    }

    @Test func callsThatMayNotChangeAnythingAreRefused() async throws {
        let bench = try ClusterBench()
        try await bench.startCoordinator()
        let agentToken = try bench.addNode("agent-1")
        let otherToken = try bench.addNode("agent-2")
        let clientToken = try bench.addNode("client", client: true)
        let agent = try bench.client(token: agentToken)
        let other = try bench.client(token: otherToken)
        let client = try bench.client(token: clientToken)
        let runID = try bench.submit("""
            version: 1
            name: guarded
            steps:
              first:
                run: echo one > ${{ outputs.o }}
                outputs: { o: file }
            """)

        func status(_ body: () async throws -> Void) async -> Int? {
            do {
                try await body()
                return 200
            } catch let problem as Wire.Problem {
                return problem.status
            } catch {
                return nil
            }
        }
        let claim = Wire.Claim(free: Capacity(cpu: 4, memoryBytes: nil, gpus: 0), limit: 1, leaseSeconds: 60, waitSeconds: 0)
        // No token, an unknown one, and a client's on an agent's call.
        let anonymous = try CoordinatorClient(url: bench.url, token: "")
        #expect(await status { _ = try await anonymous.call(.POST, "/v1/agent/claim", body: claim, as: Wire.Claimed.self) } == 401)
        let forged = try CoordinatorClient(url: bench.url, token: "btn_" + String(repeating: "A", count: 43))
        #expect(await status { _ = try await forged.call(.POST, "/v1/agent/claim", body: claim, as: Wire.Claimed.self) } == 401)
        #expect(await status { _ = try await client.call(.POST, "/v1/agent/claim", body: claim, as: Wire.Claimed.self) } == 403)
        // An oversized body.
        let huge = Wire.Progress(runID: runID, taskID: 1, attempt: 1, progress: String(repeating: "x", count: 2 << 20))
        #expect(await status { _ = try await agent.call(.POST, "/v1/agent/progress", body: huge, as: CoordinatorClient.Empty.self) } == 413)

        let claimed = try #require(try await agent.call(.POST, "/v1/agent/claim", body: claim, as: Wire.Claimed.self).tasks.first)
        let query = "?run=\(runID)&task=\(claimed.snapshot.id)&attempt=\(claimed.snapshot.attempt)"
        // Bytes that do not have the digest they are sent under; a name that is not a digest.
        let file = "\(bench.folder)/bytes"
        try "the bytes\n".write(toFile: file, atomically: true, encoding: .utf8)
        let wrong = String(repeating: "ab", count: 32)
        #expect(await status { try await agent.upload(file: file, to: "/v1/artifacts/\(wrong)\(query)") } == 422)
        #expect(!bench.home.artifacts.contains(wrong))
        #expect(try (bench.home.artifacts.allDigests()).allSatisfy { $0 != Digest.sha256("the bytes\n") })
        #expect(await status { try await agent.upload(file: file, to: "/v1/artifacts/..%2F..%2Fstore.sqlite\(query)") } == 400)
        // Another node may not upload for, read for, or complete this node's attempt.
        let digest = Digest.sha256("the bytes\n")
        #expect(await status { try await other.upload(file: file, to: "/v1/artifacts/\(digest)\(query)") } == 403)
        var completion = Completion(taskID: claimed.snapshot.id, attempt: claimed.snapshot.attempt, worker: "agent-1", outcome: .failed(message: "forged"), startedAt: 0)
        #expect(await status { _ = try await other.call(.POST, "/v1/agent/complete", body: Wire.Report(completion: completion), as: Wire.Claimed.self) } == 409)
        // A forged attempt number.
        completion.attempt += 1
        #expect(await status { _ = try await agent.call(.POST, "/v1/agent/complete", body: Wire.Report(completion: completion), as: Wire.Claimed.self) } == 409)
        // An output that was never uploaded.
        completion.attempt -= 1
        completion.outcome = .succeeded(cacheHit: false)
        completion.outputs = [ArtifactRecord(name: "o", type: "file", digest: digest, size: 10)]
        #expect(await status { _ = try await agent.call(.POST, "/v1/agent/complete", body: Wire.Report(completion: completion), as: Wire.Claimed.self) } == 422)
        // Nothing of it changed the task.
        let task = try #require(try await bench.tasks(runID)["first"])
        #expect(task.snapshot.state == .running && task.snapshot.attempt == claimed.snapshot.attempt && task.snapshot.leaseOwner == "agent-1")
        // The holder's own upload and report are taken.
        try await agent.upload(file: file, to: "/v1/artifacts/\(digest)\(query)")
        _ = try await agent.call(.POST, "/v1/agent/complete", body: Wire.Report(completion: completion), as: Wire.Claimed.self)
        #expect(try await bench.finish(runID, seconds: 60) == .succeeded)
        // A removed node's token is revoked.
        #expect(try bench.blacktail(["nodes", "remove", "agent-2"] + bench.storeArguments).status == 0)
        #expect(await status { _ = try await other.call(.GET, "/v1/whoami", as: Wire.Identity.self) } == 401)
        // A drained node is given nothing.
        let more = try bench.submit("version: 1\nname: more\nsteps:\n  again:\n    run: \"true\"\n")
        #expect(try bench.blacktail(["nodes", "drain", "agent-1"] + bench.storeArguments).status == 0)
        #expect(try await agent.call(.POST, "/v1/agent/claim", body: claim, as: Wire.Claimed.self).tasks.isEmpty)
        // A client cancels the waiting run and queues it again through the coordinator.
        let remote = ["--coordinator", bench.url, "--token", clientToken]
        #expect(try bench.blacktail(["cancel", more] + remote).status == 0)
        #expect(try await bench.withStore { try await $0.runState(more) } == .cancelled)
        #expect(try bench.blacktail(["cancel", more] + remote).error.contains("already cancelled"))
        #expect(try bench.blacktail(["retry", more] + remote).status == 0)
        #expect(try await bench.withStore { try await $0.runState(more) } == .queued)
    }

    /// docs/openapi.yaml lists exactly the routes the coordinator serves.
    @Test func theOpenAPIFileMatchesTheRoutes() throws {
        let bench = try ClusterBench()
        let coordinator = Coordinator(store: try SQLiteStore(path: "\(bench.folder)/store.sqlite"), workspace: bench.home)
        let served = Set(coordinator.routes.map { "\($0.method.rawValue.lowercased()) \($0.path)" })
        let text = try String(contentsOfFile: TestBench.projectRoot + "/docs/openapi.yaml", encoding: .utf8)
        var documented: Set<String> = []
        var path: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("  /") && line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            else if let path, line.hasPrefix("    "), !line.hasPrefix("     "),
                    let method = ["get", "put", "post", "delete", "head"].first(where: { line == "    \($0):" }) {
                documented.insert("\(method) \(path)")
            } else if !line.hasPrefix(" ") { path = nil }
        }
        #expect(documented == served)
    }
}
