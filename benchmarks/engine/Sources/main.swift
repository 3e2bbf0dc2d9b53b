// The Swift side of benchmarks/engine: the engine's own overhead with durable state.
//
//   blacktail-engine-benchmark overhead [--tasks N] [--chain N] [--concurrency C] [--keep-state]
//       N no-op built-in tasks between one source and one sink, and a chain of N, run through
//       the SQLite store and a worker exactly as `blacktail run` does; reports ms per task.
//   blacktail-engine-benchmark queue [--tasks N] [--batch B]
//       claim-and-complete throughput of the SQLite store alone: B tasks per claim, their
//       completions sent together (the store commits waiting completions as a group).
//   blacktail-engine-benchmark queue [--tasks N] [--batch B] --lanes
//       B lanes, each completing its task and claiming the next in one transaction, as a worker
//       running B tasks at once reports them.
//   ... queue ... --store postgres://USER@HOST:PORT/DATABASE
//       the same through the PostgreSQL store (benchmarks/engine/postgres-queue.sh starts a
//       server of its own for it).
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage
import Subprocess

/// An op that does nothing: what is left is the engine's cost per task.
struct NoOp: Op {
    var signature: OpSignature {
        OpSignature(name: "bench/noop", version: 1, summary: "does nothing", arguments: [], outputs: [])
    }

    func run(_ context: OpContext) async throws {}
}

let catalogue = OpCatalogue(
    signatures: BuiltinOps.catalogue.entries.map(\.signature) + [NoOp().signature],
    implementations: BuiltinOps.catalogue.entries.compactMap(\.implementation) + [NoOp()]
)

func option(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1]) else { return value }
    return parsed
}

func temporaryWorkspace() throws -> (Workspace, SQLiteStore, String) {
    let folder = NSTemporaryDirectory() + "blacktail-engine-bench-\(UUID().uuidString)"
    let workspace = Workspace(home: folder)
    try workspace.create()
    return (workspace, try SQLiteStore(path: workspace.storePath), folder)
}

/// What every task does: the no-op, or with `--command` the command `true` (one `/bin/sh -c`).
let action = CommandLine.arguments.contains("--command") ? "run: 'true'" : "uses: bench/noop"

func fanOut(_ count: Int) -> String {
    var yaml = "version: 1\nname: fanout\nsteps:\n  source:\n    \(action)\n"
    for index in 0..<count { yaml += "  t\(index):\n    \(action)\n    needs: source\n" }
    yaml += "  sink:\n    \(action)\n    needs: [" + (0..<count).map { "t\($0)" }.joined(separator: ", ") + "]\n"
    return yaml
}

func chain(_ count: Int) -> String {
    var yaml = "version: 1\nname: chain\nsteps:\n  t0:\n    \(action)\n"
    for index in 1..<count { yaml += "  t\(index):\n    \(action)\n    needs: t\(index - 1)\n" }
    return yaml
}

/// Compiles, submits and runs a pipeline with a fresh store; the seconds from submission to the end.
func measure(_ yaml: String, name: String, concurrency: Int) async throws -> (seconds: Double, tasks: Int) {
    let (workspace, store, folder) = try temporaryWorkspace()
    // Deleted when every shape has run: deleting tens of thousands of files slows the creation
    // of the next ones for a while on some file systems (ext4 without a journal).
    leftovers.append(folder)
    let path = "\(folder)/\(name).yaml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    let compilation = PipelineCompiler(signatures: catalogue.signatures).compile(path: path)
    guard let plan = compilation.plan else { fatalError(DiagnosticRenderer.text(compilation.diagnostics, in: compilation.source)) }
    let submission = Submitter.submission(
        plan: plan, pipelinePath: path, projectDirectory: folder, signatures: catalogue.signatures,
        options: Submitter.Options(noCache: true)
    )
    var configuration = Worker.Configuration(concurrency: concurrency, cpu: Double(concurrency))
    configuration.pollSeconds = 0.01
    let worker = Worker(store: store, executor: TaskExecutor(workspace: workspace, catalogue: catalogue), configuration: configuration)
    let start = ContinuousClock.now
    let runID = try await store.submit(submission, now: Date().timeIntervalSince1970).runID
    try await worker.run { try await store.runState(runID)?.isFinished ?? true }
    let elapsed = ContinuousClock.now - start
    guard try await store.runState(runID) == .succeeded else { fatalError("the run did not succeed") }
    return (seconds(elapsed), plan.nodes.count)
}

nonisolated(unsafe) var leftovers: [String] = []

func overhead() async throws {
    let count = option("--tasks", default: 10_000)
    let length = option("--chain", default: 1_000)
    let concurrency = option("--concurrency", default: 2)
    defer {
        if CommandLine.arguments.contains("--keep-state") {
            print("what the runs left: " + leftovers.joined(separator: " "))
        } else {
            for folder in leftovers { try? FileManager.default.removeItem(atPath: folder) }
        }
    }
    print("shape            tasks   seconds   ms/task   tasks/s")
    for (name, yaml) in [("fan-out", fanOut(count)), ("chain", chain(length))] {
        let (seconds, tasks) = try await measure(yaml, name: name, concurrency: concurrency)
        print(String(format: "%-14@ %7d %9.2f %9.3f %9.0f", name as NSString, tasks, seconds, seconds * 1000 / Double(tasks), Double(tasks) / seconds))
    }
}

func queue() async throws {
    let count = option("--tasks", default: 20_000)
    let batch = option("--batch", default: 1)
    let (_, sqlite, folder) = try temporaryWorkspace()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var postgres: PostgresStore?
    if let index = CommandLine.arguments.firstIndex(of: "--store"), index + 1 < CommandLine.arguments.count {
        postgres = try await PostgresStore(url: CommandLine.arguments[index + 1])
    }
    let store: any RunStore = postgres ?? sqlite
    var yaml = "version: 1\nname: independent\nsteps:\n"
    for index in 0..<count { yaml += "  t\(index):\n    uses: bench/noop\n" }
    let path = "\(folder)/independent.yaml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    guard let plan = PipelineCompiler(signatures: catalogue.signatures).compile(path: path).plan else { fatalError("compile") }
    let submission = Submitter.submission(plan: plan, pipelinePath: path, projectDirectory: folder, signatures: catalogue.signatures)
    let runID = try await store.submit(submission, now: 0).runID
    let start = ContinuousClock.now
    var done = 0
    if CommandLine.arguments.contains("--lanes") {
        // As workers report: each of B lanes completes its task and claims the next in the same
        // transaction; the lanes' reports commit together.
        done = try await withThrowingTaskGroup(of: Int.self) { group in
            for lane in 0..<batch {
                group.addTask {
                    let request = ClaimRequest(worker: "lane\(lane)", free: Capacity(cpu: 1), limit: 1, leaseSeconds: 30)
                    var current = try await store.claim(request, now: Date().timeIntervalSince1970).first
                    var finished = 0
                    while let task = current {
                        let now = Date().timeIntervalSince1970
                        let completion = Completion(
                            taskID: task.snapshot.id, attempt: task.snapshot.attempt, worker: "lane\(lane)",
                            outcome: .succeeded(cacheHit: false), startedAt: now
                        )
                        current = try await store.complete(completion, thenClaim: request, now: now).first
                        finished += 1
                    }
                    return finished
                }
            }
            return try await group.reduce(0, +)
        }
    }
    while done < count {
        let now = Date().timeIntervalSince1970
        let claimed = try await store.claim(worker: "bench", free: Capacity(cpu: Double(batch)), limit: batch, leaseSeconds: 30, now: now)
        if claimed.isEmpty { break }
        // The claimed tasks end at once, as they do on a worker running them side by side.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in claimed {
                group.addTask {
                    try await store.complete(
                        Completion(taskID: task.snapshot.id, attempt: task.snapshot.attempt, worker: "bench", outcome: .succeeded(cacheHit: false), startedAt: now),
                        now: now
                    )
                }
            }
            try await group.waitForAll()
        }
        done += claimed.count
    }
    let seconds = seconds(ContinuousClock.now - start)
    guard try await store.runState(runID) == .succeeded else { fatalError("the run did not finish") }
    let mode = CommandLine.arguments.contains("--lanes") ? "lanes (complete and claim the next together)" : "batch"
    print(String(format: "%@ claim+complete, %@ %d: %d tasks in %.2f s = %.0f tasks/s", postgres == nil ? "SQLite" : "PostgreSQL", mode as NSString, batch, done, seconds, Double(done) / seconds))
    await postgres?.close()
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// CPU seconds spent so far by this process and by its children that have been waited for.
func cpuSeconds() -> (own: Double, children: Double) {
    func seconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(who), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    return (seconds(RUSAGE_SELF.rawValue), seconds(RUSAGE_CHILDREN.rawValue))
}

/// One command after another, `/bin/sh -c true` each, three ways: the system's `posix_spawn` and
/// `waitpid` (what make does), swift-subprocess's `run`, and Blacktail's `CommandRunner` (a
/// session of its own, the reaper's registration, output and error written to files).
func spawn() async throws {
    let count = option("--count", default: 1000)
    let folder = NSTemporaryDirectory() + "blacktail-spawn-bench-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    print("way                     ms per command   CPU ms here   CPU ms in sh")
    func measure(_ name: String, _ body: () async throws -> Void) async rethrows {
        let (own, children) = cpuSeconds()
        let start = ContinuousClock.now
        try await body()
        let elapsed = seconds(ContinuousClock.now - start)
        let (ownAfter, childrenAfter) = cpuSeconds()
        let per = { (value: Double) in value * 1000 / Double(count) }
        print(String(format: "%@ %16.3f %13.3f %14.3f", name.padding(toLength: 22, withPad: " ", startingAt: 0), per(elapsed), per(ownAfter - own), per(childrenAfter - children)))
    }
    for _ in 0..<option("--rounds", default: 2) {
        await measure("posix_spawn + waitpid") {
            for _ in 0..<count {
                var pid: pid_t = 0
                let arguments: [UnsafeMutablePointer<CChar>?] = (["/bin/sh", "-c", "true"] as [String]).map { (text: String) in strdup(text) } + [nil]
                guard posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ) == 0 else { fatalError("cannot spawn /bin/sh") }
                for argument in arguments { free(argument) }
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }
        try await measure("Subprocess.run") {
            for _ in 0..<count {
                _ = try await Subprocess.run(.path("/bin/sh"), arguments: ["-c", "true"], output: .discarded, error: .discarded)
            }
        }
        try await measure("CommandRunner.run") {
            for index in 0..<count {
                _ = try await CommandRunner.run(
                    script: "true", workingDirectory: folder, environment: [:], stdout: "\(folder)/\(index).out", stderr: "\(folder)/\(index).err",
                    timeoutSeconds: nil, grace: .seconds(1)
                )
            }
        }
    }
}

switch CommandLine.arguments.dropFirst().first {
case "spawn": try await spawn()
case "overhead": try await overhead()
case "queue": try await queue()
default:
    print("usage: blacktail-engine-benchmark overhead [--tasks N] [--chain N] [--concurrency C] [--keep-state] | queue [--tasks N] [--batch B]")
    exit(64)
}
