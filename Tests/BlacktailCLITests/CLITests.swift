import Foundation
import Testing

/// End-to-end tests of the built `blacktail` binary: its standard output, standard error and exit status.
@Suite struct CLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The binary next to this test bundle, where `swift test` builds it.
    static let binary: URL = {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("blacktail"))
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("blacktail"))
        candidates.append(root.appendingPathComponent(".build/debug/blacktail"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    func run(_ arguments: [String], in directory: URL = root, executable: URL = binary) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read both pipes to the end before waiting, so a full pipe cannot block the child.
        let (out, err) = (stdout.fileHandleForReading.readDataToEndOfFile(), stderr.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    @Test func validateReportsEachFile() throws {
        let result = try run(["validate", "pipelines/iris-classifier.yaml", "pipelines/digits-sweep.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout == "pipelines/iris-classifier.yaml: ok (6 nodes)\npipelines/digits-sweep.yaml: ok (15 nodes)\n")
        #expect(result.stderr.isEmpty)
    }

    @Test func validateFailsWithDiagnosticsOnStandardError() throws {
        let path = "Tests/PipelineLanguageTests/Golden/expressions.yaml"
        let result = try run(["validate", path, "pipelines/iris-classifier.yaml"])
        #expect(result.status == 1)
        #expect(result.stdout == "pipelines/iris-classifier.yaml: ok (6 nodes)\n")
        let golden = try String(contentsOf: Self.root.appendingPathComponent("Tests/PipelineLanguageTests/Golden/expressions.txt"), encoding: .utf8)
        // The same text as the compiler's golden file, with the file's path as given, and the summary naming it.
        #expect(golden.hasSuffix("\n5 errors\n"))
        let expected = golden.replacingOccurrences(of: "expressions.yaml:", with: "\(path):")
            .replacingOccurrences(of: "\n5 errors\n", with: "\n5 errors in \(path)\n")
        #expect(result.stderr == expected)
    }

    @Test func validateAsJSON() throws {
        let result = try run(["validate", "--format", "json", "Tests/PipelineLanguageTests/Golden/expressions.yaml"])
        #expect(result.status == 1)
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let file = try #require((document?["files"] as? [[String: Any]])?.first)
        #expect(file["ok"] as? Bool == false)
        let diagnostics = try #require(file["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.count == 5)
        #expect(diagnostics.first?["code"] as? String == "expression")
        #expect(diagnostics.first?["line"] as? Int == 9)
        #expect(diagnostics.first?["column"] as? Int == 16)
        #expect(diagnostics.first?["length"] as? Int == 16)
        #expect(diagnostics.first?["severity"] as? String == "error")
    }

    @Test func aMissingFileIsAnError() throws {
        let result = try run(["validate", "pipelines/missing.yaml"])
        #expect(result.status == 1)
        #expect(result.stderr == "pipelines/missing.yaml: error: no such file\n1 error in pipelines/missing.yaml\n")
    }

    @Test func planJSONIsTheSameFromAnyFolder() throws {
        let fromRoot = try run(["plan", "pipelines/iris-classifier.yaml", "--format", "json"])
        #expect(fromRoot.status == 0)
        let fromPipelines = try run(["plan", "iris-classifier.yaml", "--format", "json"], in: Self.root.appendingPathComponent("pipelines"))
        #expect(fromPipelines.stdout == fromRoot.stdout)
        let plan = try JSONSerialization.jsonObject(with: Data(fromRoot.stdout.utf8)) as? [String: Any]
        let nodes = try #require(plan?["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["id"] as? String } == ["prep", "split", "scale", "train", "evaluate", "publish"])
        #expect(nodes.allSatisfy { ($0["key"] as? String)?.count == 64 })
        #expect(nodes.last?["if"] as? String == "steps.evaluate.outputs.metrics.accuracy >= 0.9")
    }

    @Test func parametersChangeThePlan() throws {
        let base = try run(["plan", "pipelines/iris-classifier.yaml", "--format", "json"])
        let changed = try run(["plan", "pipelines/iris-classifier.yaml", "--format", "json", "-p", "epochs=10", "--param", "hidden=[8,8]"])
        #expect(changed.status == 0)
        #expect(changed.stdout != base.stdout)
        #expect(changed.stdout.contains("\"epochs\": 10"))
        let bad = try run(["plan", "pipelines/iris-classifier.yaml", "-p", "epochs=0"])
        #expect(bad.status == 1)
        #expect(bad.stderr == "pipelines/iris-classifier.yaml: error: -p epochs=0: the value is 0, below the minimum 1.0\n1 error in pipelines/iris-classifier.yaml\n")
        let malformed = try run(["plan", "pipelines/iris-classifier.yaml", "-p", "epochs"])
        #expect(malformed.status == 64)
        #expect(malformed.stderr.contains("'-p epochs': write a parameter as name=value, e.g. -p lr=0.01"))
    }

    @Test func planAsText() throws {
        let result = try run(["plan", "pipelines/digits-sweep.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("plan digits-sweep from pipelines/digits-sweep.yaml (sha256 "))
        #expect(result.stdout.contains("15 nodes, in order:"))
        #expect(result.stdout.contains("matrix: learning_rate=0.01, hidden=[64], optimizer='adam'"))
    }

    @Test func graphs() throws {
        let dot = try run(["graph", "pipelines/iris-classifier.yaml", "--format", "dot"])
        #expect(dot.status == 0)
        #expect(dot.stdout.hasPrefix("digraph \"iris-classifier\" {"))
        #expect(dot.stdout.contains("\"prep\" -> \"split\" [label=\"dataset\"];"))
        #expect(dot.stdout.contains("\"scale\" -> \"train\" [label=\"train, scaler\"];"))
        let mermaid = try run(["graph", "pipelines/iris-classifier.yaml", "--format", "mermaid"])
        #expect(mermaid.stdout.hasPrefix("flowchart LR\n"))
        #expect(mermaid.stdout.contains("n0 -->|dataset| n1"))
        // A conditional step is drawn differently.
        #expect(mermaid.stdout.contains("n5{{\"publish<br/>market/publish\"}}"))
    }

    @Test func opsListsTheCatalogue() throws {
        let all = try run(["ops"])
        #expect(all.status == 0)
        #expect(all.stdout.contains("data/import-csv@1\n"))
        #expect(all.stdout.contains("train/mlp@1\n"))
        #expect(all.stdout.contains("market/publish@1\n"))
        #expect(!all.stdout.contains("not yet runnable"))
        let train = try run(["ops", "train"])
        let names = train.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") }.map { $0.split(separator: "@")[0] }
        #expect(names == [
            "train/linear", "train/logistic", "train/mlp", "train/kmeans", "train/pca", "train/tree", "train/forest", "train/boosted",
            "train/finetune", "train/self-training", "train/label-propagation", "train/q-learning", "train/policy-gradient",
        ])
        let json = try run(["ops", "data/split", "--format", "json"])
        let ops = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(ops?.count == 1)
        #expect(ops?.first?["runnable"] as? Bool == true)
        let unknown = try run(["ops", "nope"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.hasPrefix("error: no op or namespace 'nope'"))
    }

    @Test func theCommittedSchemaIsTheGeneratedOne() throws {
        let result = try run(["schema"])
        #expect(result.status == 0)
        let committed = try String(contentsOf: Self.root.appendingPathComponent("docs/pipeline.schema.json"), encoding: .utf8)
        #expect(result.stdout == committed, "regenerate it with: blacktail schema > docs/pipeline.schema.json")
    }

    /// An independent validator (Python's jsonschema, installed by scripts/setup.sh) accepts every
    /// example and rejects a file with mistakes the schema can see.
    @Test func anIndependentValidatorAgreesWithTheSchema() throws {
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let examples = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("pipelines").path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "pipelines/\($0)" }
        let good = try run(["python3", "scripts/check_schema.py", "docs/pipeline.schema.json"] + examples, executable: python)
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let bad = try run(["python3", "scripts/check_schema.py", "docs/pipeline.schema.json", "Tests/BlacktailCLITests/Fixtures/schema-invalid.yaml"], executable: python)
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("steps/prep/with"))
        #expect(bad.stdout.contains("steps/train"))
    }

    @Test func dataImportAndInspect() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("wine.h5").path
        let imported = try run(["data", "import", "datasets/wine.csv", "--label", "cultivar", "-o", output])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout == "\(output): 178 rows, classification, 3 classes\n")
        let inspected = try run(["data", "inspect", output])
        #expect(inspected.status == 0)
        #expect(inspected.stdout.hasPrefix("\(output): 178 rows x 13 features (float32), classification, target 'cultivar'\n"))
        #expect(inspected.stdout.contains("  0  class_0  59 rows (33.1%)\n"))
        #expect(inspected.stderr.isEmpty)
        let json = try run(["data", "inspect", output, "--format", "json"])
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(document?["rows"] as? Int == 178)
        #expect((document?["feature_statistics"] as? [[String: Any]])?.count == 13)

        let missing = try run(["data", "inspect", folder.appendingPathComponent("missing.h5").path])
        #expect(missing.status == 1)
        #expect(missing.stderr == "error: \(folder.appendingPathComponent("missing.h5").path): no such file\n")
        let badColumn = try run(["data", "import", "datasets/wine.csv", "--label", "kind", "-o", output])
        #expect(badColumn.status == 1)
        #expect(badColumn.stderr.hasPrefix("error: datasets/wine.csv: line 1: there is no column 'kind'; the columns are "))
        let notData = try run(["data", "inspect", "README.md"])
        #expect(notData.stderr == "error: README.md: not an HDF5 file (no HDF5 signature); it may be another format, or empty\n")
    }

    /// A dataset file written by `data import`, then damaged where the HDF5 library does not
    /// merely report an error: a size in its global heap (where the provenance strings are) set to
    /// `size`. 255 for the first object makes the library read past its buffer (a segfault);
    /// 49 for the `created_by` string sends it into an endless loop.
    func damagedDataset(in folder: URL, name: String, object marker: String?, size: UInt8) throws -> String {
        let path = folder.appendingPathComponent(name).path
        let imported = try run(["data", "import", "datasets/iris.csv", "--label", "species", "--compression", "9", "-o", path])
        #expect(imported.status == 0, "\(imported.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The heap: "GCOL", version, reserved, its size (16 bytes), then objects, each an index
        // (2 bytes), references (2), reserved (4), size (8) and its data.
        let sizeField = if let marker {
            try #require(bytes.firstRange(of: Array(marker.utf8))?.lowerBound, "no '\(marker)' in the file") - 8
        } else {
            try #require(bytes.firstRange(of: Array("GCOL".utf8))?.lowerBound, "the file has no global heap") + 16 + 8
        }
        bytes[sizeField] = size
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aDamagedDatasetIsReportedNotACrash() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.h5").path
        #expect(try run(["data", "import", "datasets/iris.csv", "--label", "species", "-o", good]).status == 0)
        let whole = try run(["data", "verify", good])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(whole.stdout == "\(good): reads whole: 1 group, 2 datasets, 8 attributes, 750 values\n")
        // The child's own error comes back as it is.
        let notHDF5 = try run(["data", "verify", "README.md"])
        #expect(notHDF5.status == 1)
        #expect(notHDF5.stderr == "error: README.md: not an HDF5 file (no HDF5 signature); it may be another format, or empty\n")

        let crashing = try damagedDataset(in: folder, name: "crashing.h5", object: nil, size: 255)
        let crashed = "error: \(crashing): the HDF5 library crashed reading it (its reader was killed by signal 11 (SIGSEGV)); the file is damaged\n"
        let verified = try run(["data", "verify", crashing])
        #expect(verified.status == 1)
        #expect(verified.stderr == crashed)
        let inspected = try run(["data", "inspect", crashing])
        #expect(inspected.status == 1)
        #expect(inspected.stderr == crashed)

        let looping = try damagedDataset(in: folder, name: "looping.h5", object: "data/import-csv@1", size: 49)
        let stopped = try run(["data", "verify", looping, "--timeout", "2"])
        #expect(stopped.status == 1)
        #expect(stopped.stderr == "error: \(looping): reading it did not finish within 2 s; a damaged HDF5 file can make the HDF5 library loop without end\n")
    }

    @Test func versionAndHelp() throws {
        #expect(try run(["--version"]).stdout == "0.1.0\n")
        let help = try run(["--help"])
        for command in ["validate", "plan", "graph", "ops", "schema"] {
            #expect(help.stdout.contains("  \(command) "))
        }
    }
}
