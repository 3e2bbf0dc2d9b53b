import Foundation
import Testing

/// The engine's commands through the built binary: a run, its record, the cache, and the errors.
extension CLITests {
    func temporaryHome() throws -> String {
        let folder = NSTemporaryDirectory() + "blacktail-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func runRecordsAndReusesAPipeline() throws {
        let home = try temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let before = try run(["plan", "pipelines/diabetes-ridge.yaml", "--home", home])
        #expect(before.stdout.hasSuffix("\ncache: no runs in this workspace yet; every step will run\n"))

        let first = try run(["run", "pipelines/diabetes-ridge.yaml", "--home", home])
        #expect(first.status == 0, "\(first.stderr)")
        let runID = try #require(first.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first?.dropLast())
        #expect(first.stdout.contains("run \(runID)  succeeded"))
        #expect(first.stdout.contains(" train succeeded"))

        let plan = try run(["plan", "pipelines/diabetes-ridge.yaml", "--home", home])
        #expect(plan.stdout.contains("  train     hit   outputs of train in run \(runID)"))
        let changed = try run(["plan", "pipelines/diabetes-ridge.yaml", "--home", home, "-p", "l2=0.5"])
        #expect(changed.stdout.contains("  train     miss  never run with these arguments and inputs"))

        let second = try run(["run", "pipelines/diabetes-ridge.yaml", "--home", home])
        #expect(second.status == 0)
        #expect(second.stdout.contains(" train cached"))

        let status = try run(["status", String(runID.prefix(18)), "--home", home, "--format", "json"])
        #expect(status.status == 0, "\(status.stderr)")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(record["id"] as? String == String(runID))
        #expect(record["state"] as? String == "succeeded")
        let tasks = try #require(record["tasks"] as? [[String: Any]])
        #expect(tasks.map { $0["node"] as? String } == ["prep", "split", "scale", "train", "evaluate"])
        let prepInputs = try #require(tasks.first?["inputs"] as? [[String: Any]])
        #expect(prepInputs.first?["from"] as? String == "datasets/diabetes.csv")

        let runs = try run(["runs", "--home", home])
        #expect(runs.stdout.split(separator: "\n").count == 2)
    }

    @Test func anOpsDamagedInputFailsItsTaskNotTheWorker() throws {
        let folder = URL(fileURLWithPath: try temporaryHome())
        defer { try? FileManager.default.removeItem(at: folder) }
        // A command hands the op a file Blacktail did not write: the op's worker reads it in a child first.
        _ = try damagedDataset(in: folder, name: "damaged.h5", object: nil, size: 255)
        #expect(try run(["data", "import", "datasets/iris.csv", "--label", "species", "-o", folder.appendingPathComponent("good.h5").path]).status == 0)
        for name in ["damaged", "good"] {
            try """
                version: 1
                name: \(name)
                steps:
                  make:
                    run: cp ${{ inputs.file }} ${{ outputs.data }}
                    inputs:
                      file: \(name).h5
                    outputs:
                      data: dataset
                  split:
                    uses: data/split
                    with:
                      input: ${{ steps.make.outputs.data }}
                """.write(to: folder.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        let home = folder.appendingPathComponent("home").path
        let damaged = try run(["run", "damaged.yaml", "--home", home, "--plain"], in: folder)
        #expect(damaged.status == 1, "\(damaged.stderr)")
        #expect(damaged.stdout.contains(" split failed"))
        #expect(damaged.stdout.contains("input 'input' (make.data): \(home)/artifacts/"))
        #expect(damaged.stdout.contains(": the HDF5 library crashed reading it (its reader was killed by signal 11 (SIGSEGV)); the file is damaged"))

        let good = try run(["run", "good.yaml", "--home", home, "--plain"], in: folder)
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        // Read whole once, the input is marked so; so are the files the op wrote.
        let marks = try FileManager.default.subpathsOfDirectory(atPath: "\(home)/artifacts").filter { $0.hasSuffix(".reads-whole") }
        #expect(marks.count == 4)
    }

    @Test func engineCommandsSayWhatIsWrong() throws {
        let home = try temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let missing = try run(["status", "20991231", "--home", home])
        #expect(missing.status == 1)
        #expect(missing.stderr == "error: no run '20991231'; 'blacktail runs' lists them\n")

        let pipeline = "\(home)/big.yaml"
        try "version: 1\nname: big\nsteps:\n  a:\n    run: 'true'\n    resources: { cpu: 64 }\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
        let tooBig = try run(["run", pipeline, "--home", home, "--cpus", "2"])
        #expect(tooBig.status == 1)
        #expect(tooBig.stderr.hasPrefix("error: step a asks for cpu 64.0, more than this machine's worker offers (cpu 2.0"))

        let failing = "\(home)/failing.yaml"
        try "version: 1\nname: failing\nsteps:\n  a:\n    run: echo broken >&2; exit 4\n".write(toFile: failing, atomically: true, encoding: .utf8)
        let failed = try run(["run", failing, "--home", home, "--plain"])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("a failed"))
        #expect(failed.stdout.contains("the command exited with status 4; its last lines on stderr:"))
        #expect(failed.stdout.contains("  broken"))

        // A store that a newer blacktail migrated is refused, not changed.
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO grdb_migrations VALUES ('v99')\"); c.commit()", "\(home)/store.sqlite"]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        let newer = try run(["runs", "--home", home])
        #expect(newer.status == 1)
        #expect(newer.stderr == "error: the store \(home)/store.sqlite was made by a newer blacktail; use that version\n")
    }

    @Test func logsShowAStepsOutputAndGCRemovesOnlyWhatNoRunNames() throws {
        let home = try temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let pipeline = "\(home)/echo.yaml"
        try "version: 1\nname: echo\nsteps:\n  say:\n    run: echo hello; echo oops >&2; echo kept > ${{ outputs.note }}\n    outputs: { note: file }\n"
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let ran = try run(["run", pipeline, "--home", home, "--plain"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let runID = try #require(ran.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first?.dropLast())
        let logs = try run(["logs", String(runID), "say", "--home", home])
        #expect(logs.stdout == "say [stdout] hello\nsay [stderr] oops\n")

        // A stray file in the store and a write cut short in staging: gc says, then removes, only those.
        let stray = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: "\(home)/artifacts/ab", withIntermediateDirectories: true)
        try "stray".write(toFile: "\(home)/artifacts/ab/\(stray.dropFirst(2))", atomically: true, encoding: .utf8)
        try "half".write(toFile: "\(home)/staging/copy-cut-short", atomically: true, encoding: .utf8)
        let dry = try run(["gc", "--dry-run", "--home", home])
        #expect(dry.stdout == "would remove 1 unreferenced artifact (5 B) and 1 unfinished write; 1 referenced kept\n")
        #expect(FileManager.default.fileExists(atPath: "\(home)/artifacts/ab/\(stray.dropFirst(2))"))
        let gc = try run(["gc", "--home", home])
        #expect(gc.stdout == "removed 1 unreferenced artifact (5 B) and 1 unfinished write; 1 referenced kept\n")
        #expect(!FileManager.default.fileExists(atPath: "\(home)/artifacts/ab/\(stray.dropFirst(2))"))
        #expect(!FileManager.default.fileExists(atPath: "\(home)/staging/copy-cut-short"))
        let kept = try run(["status", String(runID), "--home", home, "--format", "json"])
        let record = try #require(try JSONSerialization.jsonObject(with: Data(kept.stdout.utf8)) as? [String: Any])
        let output = try #require(((record["tasks"] as? [[String: Any]])?.first?["outputs"] as? [[String: Any]])?.first?["sha256"] as? String)
        #expect(FileManager.default.fileExists(atPath: "\(home)/artifacts/\(output.prefix(2))/\(output.dropFirst(2))"))
    }
}
