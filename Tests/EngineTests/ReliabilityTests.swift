import Engine
import Foundation
import Testing

/// Real `blacktail` processes on one store, killed and restarted on purpose.
@Suite(.serialized) struct ReliabilityTests {
    static let binary: String = {
        var candidates: [String] = []
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("blacktail").path)
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("blacktail").path)
        candidates.append(TestBench.projectRoot + "/.build/debug/blacktail")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()

    /// Starts `blacktail` with its output in files of the bench folder.
    func start(_ bench: TestBench, _ arguments: [String], name: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments + ["--home", bench.workspace.root]
        process.currentDirectoryURL = URL(fileURLWithPath: TestBench.projectRoot)
        _ = FileManager.default.createFile(atPath: "\(bench.folder)/\(name).out", contents: nil)
        _ = FileManager.default.createFile(atPath: "\(bench.folder)/\(name).err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(bench.folder)/\(name).out")
        process.standardError = FileHandle(forWritingAtPath: "\(bench.folder)/\(name).err")
        try process.run()
        return process
    }

    func worker(_ bench: TestBench, name: String, lease: Int = 2, exitWhenIdle: Bool = false, concurrency: Int = 2) throws -> Process {
        var arguments = ["worker", "--lease", String(lease), "--concurrency", String(concurrency), "--cpus", String(concurrency), "--gpus", "none"]
        if exitWhenIdle { arguments.append("--exit-when-idle") }
        return try start(bench, arguments, name: name)
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Whether the process ended within `seconds`; when it did not, records what it printed and
    /// the state the kernel reports for it.
    func waitForExit(_ process: Process, seconds: Double) async throws -> Bool {
        if try await poll(seconds: seconds, { !process.isRunning }) { return true }
        Issue.record("still running after \(seconds) s: \(describe(process))")
        return false
    }

    /// A process's state as the kernel reports it (the process, and for each thread the system
    /// call it is in, if any), its children's (a command, or a child stuck before it became one),
    /// each thread's stack where `eu-stack` is installed, the locks held on files, and what it
    /// printed on stderr.
    func describe(_ process: Process) -> String {
        let pid = process.processIdentifier
        func read(_ path: String) -> String {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "(unreadable)").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func threads(of pid: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).sorted()
        }
        func kernelState(_ pid: String, depth: Int) -> [String] {
            let indent = String(repeating: "  ", count: depth)
            var lines = ["\(indent)process \(pid) \(read("/proc/\(pid)/cmdline").replacingOccurrences(of: "\0", with: " ").prefix(120))",
                         "\(indent)  stat: \(read("/proc/\(pid)/stat").prefix(160))"]
            for tid in threads(of: pid) {
                lines.append("\(indent)  \(tid) \(read("/proc/\(pid)/task/\(tid)/comm")): syscall \(read("/proc/\(pid)/task/\(tid)/syscall").prefix(40)), wchan \(read("/proc/\(pid)/task/\(tid)/wchan"))")
            }
            let children = threads(of: pid).flatMap { read("/proc/\(pid)/task/\($0)/children").split(separator: " ").map(String.init) }
            if depth < 3 {
                for child in children { lines += kernelState(child, depth: depth + 1) }
            }
            return lines
        }
        let log = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/2"))
            .flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "(stderr not readable)"
        return """
            \(kernelState(String(pid), depth: 0).joined(separator: "\n"))
            stacks:
            \(stacks(of: pid))
            file locks (/proc/locks):
            \(read("/proc/locks"))
            its stderr:
            \(log.suffix(4_000))
            """
    }

    /// Every thread's stack, from `eu-stack` (elfutils), or why there is none.
    func stacks(of pid: Int32) -> String {
        guard let tool = ["/usr/bin/eu-stack", "/bin/eu-stack"].first(where: FileManager.default.isExecutableFile) else {
            return "(eu-stack is not installed)"
        }
        let stack = Process()
        stack.executableURL = URL(fileURLWithPath: tool)
        stack.arguments = ["-p", String(pid)]
        let output = Pipe()
        stack.standardOutput = output
        stack.standardError = output
        guard (try? stack.run()) != nil else { return "(eu-stack did not start)" }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        stack.waitUntilExit()
        return String(text.suffix(12_000))
    }

    @Test func aKilledWorkersTaskRunsAgainExactlyOnce() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let mark = "\(bench.folder)/mark"
        let gate = Gate(folder: bench.folder)
        let runID = try await bench.submit("""
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
        let first = try worker(bench, name: "first")
        let patience = 30.0
        if !(try await poll(seconds: patience) { lines(mark) == ["start"] }) {
            let states = try await bench.tasks(runID).map { "\($0.key): \($0.value.snapshot.state) attempt \($0.value.snapshot.attempt) lease \($0.value.snapshot.leaseOwner ?? "none")" }
            Issue.record("the first worker did not start the task within \(patience) s; tasks: \(states.sorted())\n\(describe(first))")
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        // Had the killed attempt's command outlived its worker, it would now write "done" too.
        gate.open()
        let second = try worker(bench, name: "second", exitWhenIdle: true)
        #expect(try await waitForExit(second, seconds: 60))
        try await Task.sleep(for: .seconds(1))
        #expect(lines(mark) == ["start", "start", "done"])
        #expect(try await bench.state(runID) == .succeeded)
        let tasks = try await bench.tasks(runID)
        let slow = try #require(tasks["slow"])
        #expect(slow.snapshot.attempt == 2)
        #expect(try await bench.store.attempts(taskID: slow.snapshot.id).map(\.outcome) == ["lost", "succeeded"])
        #expect(try bench.read(try #require(tasks["after"]?.outputs.first)) == "out\n")
    }

    /// The worker's reaper (`CommandReaper`) among its children: the `/bin/sh` loop that holds the
    /// other end of the commands' lifeline.
    func reapers(of process: Process) -> [Int32] {
        let pid = process.processIdentifier
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let children = tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int32($0) }
        }
        return children.filter { child in
            let command = (try? String(contentsOfFile: "/proc/\(child)/cmdline", encoding: .utf8)) ?? ""
            return command.contains("live=")
        }
    }

    @Test func aReaperThatDiesIsReplacedAndStillEndsTheCommandsOfAKilledWorker() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let mark = "\(bench.folder)/mark"
        let (first, second) = (Gate(folder: bench.folder, name: "first"), Gate(folder: bench.folder, name: "second"))
        _ = try await bench.submit("""
            version: 1
            name: reaped
            steps:
              a:
                run: echo a >> \(mark); \(first.shellWait)
              b:
                needs: a
                run: echo b >> \(mark); \(second.shellWait); echo b-outlived-its-worker >> \(mark)
            """)
        let worker = try worker(bench, name: "worker", concurrency: 1)
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        #expect(try await poll(seconds: 30) { lines(mark) == ["a"] }, "\(describe(worker))")
        let original = reapers(of: worker)
        #expect(original.count == 1, "\(describe(worker))")
        for reaper in original { kill(reaper, SIGKILL) }
        // a ends without a reaper; b's command must start a new one before it runs.
        #expect(try await poll(seconds: 10) { reapers(of: worker).isEmpty })
        first.open()
        #expect(try await poll(seconds: 30) { lines(mark) == ["a", "b"] }, "\(describe(worker))")
        let replacement = reapers(of: worker)
        #expect(replacement.count == 1 && replacement != original, "\(describe(worker))")
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        // Had b's command outlived its worker, it would pass the gate and write its line.
        second.open()
        try await Task.sleep(for: .seconds(1))
        #expect(lines(mark) == ["a", "b"])
    }

    @Test func twoWorkersNeverRunOneAttemptAndHeartbeatsKeepLongTasks() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let mark = "\(bench.folder)/mark"
        var yaml = "version: 1\nname: shared\nsteps:\n  long:\n    run: echo long >> \(mark); sleep 4\n"
        for index in 0..<30 {
            yaml += "  t\(index):\n    run: echo t\(index) >> \(mark); sleep 0.3\n"
        }
        let runID = try await bench.submit(yaml)
        // A 1-second lease: the 4-second task keeps it only by heartbeat.
        let workers = try (0..<2).map { try worker(bench, name: "w\($0)", lease: 1, exitWhenIdle: true) }
        for process in workers { #expect(try await waitForExit(process, seconds: 90)) }
        #expect(try await bench.state(runID) == .succeeded)
        let seen = lines(mark)
        #expect(seen.count == 31)
        #expect(Set(seen).count == 31)
        let tasks = try await bench.tasks(runID)
        #expect(tasks.values.allSatisfy { $0.snapshot.attempt == 1 })
        // Both workers took part (one worker alone needs about 9 s for the short tasks).
        #expect(Set(tasks.values.compactMap(\.worker)).count == 2)
    }

    @Test func aPoisonTaskEndsFailedAfterItsAttemptsAndTheWorkerStaysUp() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let runID = try await bench.submit("""
            version: 1
            name: poison
            steps:
              poison:
                run: kill -9 $PPID; sleep 5
              fine:
                needs: poison
                if: always()
                run: echo fine
            """)
        var deaths = 0
        for round in 0..<6 {
            let process = try worker(bench, name: "w\(round)", lease: 1, exitWhenIdle: true, concurrency: 1)
            #expect(try await waitForExit(process, seconds: 60))
            if process.terminationReason == .uncaughtSignal {
                deaths += 1
                // Let the dead worker's lease lapse.
                try await Task.sleep(for: .seconds(1.2))
            } else {
                #expect(process.terminationStatus == 0)
                break
            }
        }
        #expect(deaths == QueueCore.lostLeaseLimit)
        #expect(try await bench.state(runID) == .failed)
        let tasks = try await bench.tasks(runID)
        #expect(tasks["poison"]?.snapshot.state == .failed)
        #expect(tasks["poison"]?.snapshot.message?.contains("stopped while running it 3 times") == true)
        #expect(tasks["fine"]?.snapshot.state == .succeeded)
    }

    @Test func killingWorkersDuringWritesLeavesAConsistentStore() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        var yaml = "version: 1\nname: churn\nsteps:\n"
        for index in 0..<120 {
            yaml += "  t\(index):\n    run: echo \(index) > ${{ outputs.o }}\n    outputs: { o: file }\n"
        }
        let runID = try await bench.submit(yaml)
        for round in 0..<4 {
            let process = try worker(bench, name: "k\(round)", lease: 1)
            try await Task.sleep(for: .milliseconds(700 + 300 * round))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(try bench.store.integrityCheck() == "ok")
        }
        try await Task.sleep(for: .seconds(1.2))
        let last = try worker(bench, name: "last", lease: 1, exitWhenIdle: true)
        #expect(try await waitForExit(last, seconds: 90))
        #expect(try bench.store.integrityCheck() == "ok")
        if try await bench.state(runID) == .failed {
            // A task caught by three of the kills has used up its lost-lease limit: that is the
            // only way one may fail here, and retrying the run finishes it.
            for task in try await bench.tasks(runID).values where task.snapshot.state == .failed {
                #expect(task.snapshot.message?.contains("stopped while running it 3 times") == true)
            }
            try await bench.store.retry(runID: runID, now: Date().timeIntervalSince1970)
            let again = try worker(bench, name: "again", lease: 1, exitWhenIdle: true)
            #expect(try await waitForExit(again, seconds: 90))
        }
        #expect(try await bench.state(runID) == .succeeded)
        for (node, task) in try await bench.tasks(runID) {
            let output = try #require(task.outputs.first, "\(node)")
            #expect(try bench.read(output) == "\(node.dropFirst())\n")
        }
    }

    @Test func threeSchedulersGiveOneRunPerTick() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let pipeline = "\(bench.folder)/tick.yaml"
        try "version: 1\nname: tick\nschedule: '* * * * *'\nsteps:\n  a:\n    run: 'true'\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
        let now = Date().timeIntervalSince1970
        // Created 3.5 minutes ago with catch-up: three or four ticks are due.
        try await bench.store.saveSchedule(ScheduleRecord(
            name: "tick", pipelinePath: pipeline, projectDirectory: bench.folder, cron: "* * * * *", params: [],
            missed: .catchUp, createdAt: now - 210, checkedThrough: 0
        ))
        let due = try Scheduler.dueTicks(try #require(await bench.store.schedules().first), now: Int64(now))
        let schedulers = try (0..<3).map { try start(bench, ["scheduler", "--once"], name: "s\($0)") }
        for process in schedulers {
            #expect(try await waitForExit(process, seconds: 60))
            #expect(process.terminationStatus == 0)
        }
        let runs = try await bench.store.runs(limit: 100)
        let keys = runs.compactMap(\.idempotencyKey)
        // One run per tick: no tick twice, every due tick there (a minute may have turned since).
        #expect(keys.count == runs.count && Set(keys).count == keys.count)
        #expect(Set(keys).isSuperset(of: due.map { "schedule:tick:\($0)" }))
        #expect(runs.count <= due.count + 1)
        // A later check finds nothing new in the same minute.
        let again = try start(bench, ["scheduler", "--once"], name: "again")
        #expect(try await waitForExit(again, seconds: 60))
        #expect(try await bench.store.runs(limit: 100).count <= due.count + 1)
    }
}
