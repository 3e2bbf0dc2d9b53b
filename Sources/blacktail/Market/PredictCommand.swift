import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import HDF5

struct PredictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a published model on new data: a dataset file (.h5) or a CSV file with the model's feature columns.",
        discussion: """
            CSV columns are matched to the model's features by name; other columns are ignored. The \
            model's saved preprocessing is applied. Predictions go to standard output as CSV, or to \
            --output (.csv, or .h5 for a dataset file).
            """
    )

    @Argument(help: "NAME, NAME@VERSION or NAME@ALIAS.")
    var model: String

    @Option(help: ArgumentHelp("The rows to predict: FILE.h5 or FILE.csv.", valueName: "file"))
    var input: String

    @Option(help: ArgumentHelp("Where to write the predictions (.csv or .h5); standard output when not given.", valueName: "file"))
    var output: String?

    @Option(help: "Threads for the model's arithmetic.")
    var threads: Int = 1

    @OptionGroup var home: HomeOptions

    func run() async throws {
        let (workspace, store) = try home.open()
        let version = try await store.resolve(try MarketReference(parsing: model))
        if version.isYanked {
            CompilerFrontend.writeError("warning: \(version.reference) is yanked: \(version.yankReason ?? "no reason given")\n")
        }
        guard let file = try version.manifest().modelFile else { throw CLIError("\(version.reference) lists no model file") }
        let checkpoint = try workspace.artifacts.verifiedPath(file.sha256)
        let result: PredictionResult
        do {
            // Files from elsewhere are read whole in a child first: a damaged one can crash the HDF5 library.
            let verifier = HDF5Verifier.thisProgram()
            try await verifier.verify(stored: file.sha256, in: workspace.artifacts)
            if HDF5File.hasSignature(atPath: input) { _ = try await verifier.verify(input) }
            result = try Prediction.predict(checkpoint: checkpoint, input: input, threads: max(1, threads))
        } catch {
            throw CLIError("\(error)")
        }
        switch output {
        case nil:
            print(result.csv(), terminator: "")
        case let path? where path.hasSuffix(".h5"):
            try result.write(hdf5: path)
            CompilerFrontend.writeError("\(result.rowCount) predictions of \(version.reference) written to \(path)\n")
        case let path?:
            try Data(result.csv().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            CompilerFrontend.writeError("\(result.rowCount) predictions of \(version.reference) written to \(path)\n")
        }
    }
}
