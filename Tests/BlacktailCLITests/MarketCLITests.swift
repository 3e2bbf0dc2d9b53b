import Foundation
import Testing

/// The market's commands, predict and reproduce through the built binary.
extension CLITests {
    @Test func publishFindVerifyPullPredictAndReproduceThroughTheCommands() throws {
        let home = try temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let noKey = try run(["run", "pipelines/iris-classifier.yaml", "--home", home, "--plain", "-p", "epochs=30", "-p", "min_accuracy=0.5"])
        #expect(noKey.status == 1)
        #expect(noKey.stdout.contains("no signing key") && noKey.stdout.contains("blacktail keys new"), "\(noKey.stdout)")

        let key = try run(["keys", "new", "alice", "--home", home])
        #expect(key.status == 0, "\(key.stderr)")
        #expect(key.stdout.hasPrefix("alice  ed25519:") && key.stdout.hasSuffix("(default)\n"))
        #expect(try run(["keys", "new", "alice", "--home", home]).status == 1)
        let exported = try run(["keys", "export", "alice", "--home", home])
        let keyFile = "\(home)/alice.pub.json"
        try exported.stdout.write(toFile: keyFile, atomically: true, encoding: .utf8)
        #expect(exported.stdout.contains("\"public_key\""))
        #expect(!exported.stdout.contains("private"))

        let published = try run(["run", "pipelines/iris-classifier.yaml", "--home", home, "--plain", "-p", "epochs=30", "-p", "min_accuracy=0.5"])
        #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
        let runID = try #require(published.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first?.dropLast())

        let list = try run(["market", "list", "--home", home])
        #expect(list.stdout.contains("iris-mlp@1.0.0  classification  mlp"), "\(list.stdout)")
        #expect(try run(["market", "search", "iris", "--tag", "tabular", "--metric", "accuracy>=0.5", "--home", home]).stdout.contains("iris-mlp@1.0.0"))
        #expect(try run(["market", "search", "--task", "regression", "--home", home]).stdout == "no models\n")

        let show = try run(["market", "show", "iris-mlp", "--home", home])
        #expect(show.stdout.contains("aliases      latest"))
        #expect(show.stdout.contains("run          \(runID) of iris-classifier"))
        #expect(show.stdout.contains("classes      setosa, versicolor, virginica"))

        let verified = try run(["market", "verify", "iris-mlp@1.0.0", "--key", keyFile, "--home", home])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.hasSuffix("iris-mlp@1.0.0: verified\n"))

        let folder = "\(home)/pulled"
        let pull = try run(["market", "pull", "iris-mlp@latest", "--to", folder, "--home", home])
        #expect(pull.stdout == "pulled iris-mlp@1.0.0 to \(folder): model.h5, metrics.json, manifest.json, manifest.sig\n")
        #expect(try run(["market", "verify", folder, "--home", home]).status == 0)
        // A pulled file changed: verify names it and fails.
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(folder)/metrics.json"))
        let tampered = try run(["market", "verify", folder, "--home", home])
        #expect(tampered.status == 1)
        #expect(tampered.stdout.contains("failed   file metrics.json: its sha256 is"))

        // Predictions from CSV (columns matched by name) and from a dataset file agree.
        let csv = try run(["predict", "iris-mlp@1.0.0", "--input", "datasets/iris.csv", "--home", home])
        #expect(csv.status == 0, "\(csv.stderr)")
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.first == "row,prediction,p_setosa,p_versicolor,p_virginica")
        #expect(rows.count == 151)
        #expect(rows[1].hasPrefix("0,setosa,"))
        let dataset = "\(home)/iris.h5"
        #expect(try run(["data", "import", "datasets/iris.csv", "--label", "species", "--output", dataset]).status == 0)
        let fromHDF5 = try run(["predict", "iris-mlp", "--input", dataset, "--home", home])
        #expect(fromHDF5.stdout == csv.stdout)
        let output = "\(home)/predictions.h5"
        #expect(try run(["predict", "iris-mlp", "--input", dataset, "--output", output, "--home", home]).status == 0)
        #expect(FileManager.default.fileExists(atPath: output))
        let wrong = try run(["predict", "iris-mlp", "--input", "datasets/diabetes.csv", "--home", home])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("sepal_length_cm"), "\(wrong.stderr)")

        let reproduced = try run(["reproduce", "iris-mlp", "--plain", "--home", home])
        #expect(reproduced.status == 0, "\(reproduced.stdout)\(reproduced.stderr)")
        #expect(reproduced.stdout.contains("publish   not run again"))
        #expect(reproduced.stdout.hasSuffix("bit-for-bit identical: 11 outputs of 5 steps\n"), "\(reproduced.stdout)")

        let unknown = try run(["reproduce", "nothing-here", "--home", home])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "error: no run nothing-here in this home, and the market has no model named 'nothing-here'\n")

        let alias = try run(["market", "alias", "iris-mlp", "production", "1.0.0", "--home", home])
        #expect(alias.stdout == "iris-mlp@production: (new) -> 1.0.0\n")
        let yank = try run(["market", "yank", "iris-mlp@1.0.0", "--reason", "test", "--home", home])
        #expect(yank.status == 0)
        #expect(try run(["market", "list", "--home", home]).stdout == "no models\n")
        #expect(try run(["market", "show", "iris-mlp@production", "--home", home]).status == 1)
        #expect(try run(["market", "show", "iris-mlp@1.0.0", "--home", home]).stdout.contains("YANKED: test"))

        // From a recorded run's outputs, with their lineage; --run needs the step that wrote the model.
        let fromRun = try run(["market", "publish", "--name", "iris-copy", "--run", String(runID), "--step", "train", "--metrics-step", "evaluate", "--home", home])
        #expect(fromRun.status == 0, "\(fromRun.stderr)")
        #expect(fromRun.stdout.hasPrefix("published iris-copy@1.0.0  id "))
        #expect(try run(["market", "show", "iris-copy", "--home", home]).stdout.contains("made by      train"))
        #expect(try run(["market", "publish", "--name", "iris-copy", "--run", String(runID), "--home", home]).status != 0)
    }
}
