import ArgumentParser
import BlacktailData
import Engine
import Foundation
import HDF5
import PipelineLanguage

struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Look into dataset files and import CSV files outside a pipeline.",
        subcommands: [Inspect.self, Verify.self, Import.self]
    )

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a dataset file's shape, task, classes and balance, attributes and per-feature statistics."
        )

        @Argument(help: "The dataset file (.h5).")
        var file: String

        @Option(help: "text or json.")
        var format: OutputFormat = .text

        func run() async throws {
            let summary: DatasetSummary
            do {
                // A damaged file can crash the HDF5 library: it is read whole in a child first.
                if HDF5File.hasSignature(atPath: file) { _ = try await HDF5Verifier.thisProgram().verify(file) }
                summary = try DatasetSummary(path: file)
            } catch {
                CompilerFrontend.writeError("error: \(error)\n")
                throw ExitCode.failure
            }
            switch format {
            case .text: print(Self.text(summary), terminator: "")
            case .json: print(Self.json(summary).prettyText, terminator: "")
            }
        }

        static func number(_ value: Double) -> String {
            value.isNaN ? "-" : String(format: "%.6g", value)
        }

        static func text(_ summary: DatasetSummary) -> String {
            var text = "\(summary.path): \(summary.rows) rows x \(summary.features) features (float32), \(summary.task.rawValue)"
            text += summary.targetName.isEmpty ? "\n" : ", target '\(summary.targetName)'\n"
            let provenance = summary.provenance
            if !provenance.createdBy.isEmpty || !provenance.source.isEmpty {
                text += "written by \(provenance.createdBy.isEmpty ? "?" : provenance.createdBy) from \(provenance.source.isEmpty ? "?" : provenance.source)"
                text += provenance.sourceSHA256.isEmpty ? "\n" : " (sha256 \(provenance.sourceSHA256.prefix(16))...)\n"
            }
            if !summary.classCounts.isEmpty {
                text += "\nclasses:\n"
                let width = summary.classCounts.map(\.name.count).max() ?? 0
                for (id, entry) in summary.classCounts.enumerated() {
                    let share = summary.rows > 0 ? Double(entry.rows) / Double(summary.rows) * 100 : 0
                    text += "  \(id)  \(entry.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.rows) rows (\(String(format: "%.1f", share))%)\n"
                }
            }
            if summary.unlabelledRows > 0 { text += "  unlabelled: \(summary.unlabelledRows) rows\n" }
            if let range = summary.targetRange {
                text += "\ntargets: min \(number(range.minimum)), max \(number(range.maximum)), mean \(number(range.mean))\n"
            }
            text += "\nfeatures:\n"
            let width = max(7, summary.statistics.map(\.name.count).max() ?? 0)
            func column(_ value: String) -> String { String(repeating: " ", count: max(0, 12 - value.count)) + value }
            text += "  " + "feature".padding(toLength: width, withPad: " ", startingAt: 0)
                + ["min", "max", "mean", "std", "missing"].map(column).joined() + "\n"
            for statistic in summary.statistics {
                text += "  " + statistic.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    + [number(statistic.minimum), number(statistic.maximum), number(statistic.mean), number(statistic.standardDeviation), String(statistic.missing)]
                    .map(column).joined() + "\n"
            }
            return text
        }

        static func json(_ summary: DatasetSummary) -> JSONValue {
            func number(_ value: Double) -> JSONValue { value.isNaN ? .null : .double(value) }
            var object: [String: JSONValue] = [
                "file": .string(summary.path),
                "rows": .int(summary.rows),
                "features": .int(summary.features),
                "task": .string(summary.task.rawValue),
                "target_name": .string(summary.targetName),
                "source": .string(summary.provenance.source),
                "source_sha256": .string(summary.provenance.sourceSHA256),
                "created_by": .string(summary.provenance.createdBy),
                "classes": .array(summary.classCounts.map { ["name": .string($0.name), "rows": .int($0.rows)] }),
                "unlabelled_rows": .int(summary.unlabelledRows),
                "feature_statistics": .array(summary.statistics.map { statistic in
                    [
                        "name": .string(statistic.name), "min": number(statistic.minimum), "max": number(statistic.maximum),
                        "mean": number(statistic.mean), "std": number(statistic.standardDeviation), "missing": .int(statistic.missing),
                    ]
                }),
            ]
            if let range = summary.targetRange {
                object["targets"] = ["min": number(range.minimum), "max": number(range.maximum), "mean": number(range.mean)]
            }
            return .object(object)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every group, dataset and attribute of an HDF5 file, in a child process, and say whether all of it reads.",
            discussion: """
                A damaged file usually gives an error naming the object, but some make the HDF5 library crash or loop \
                without end; the child's crash or its time limit is reported as damage, and this process never opens \
                the file. Pipelines do the same for an op's HDF5 inputs that Blacktail did not write.
                """
        )

        @Argument(help: "The HDF5 file.")
        var file: String

        @Option(help: "Seconds the reading may take (default: 60, plus 1 per 20 MB of the file).")
        var timeout: Double?

        @Flag(help: .hidden)
        var here = false

        func run() async throws {
            do {
                if here {
                    // The child: read in this process, and say what was read. Should its parent be
                    // killed, it still ends (SIGALRM) soon after the parent would have stopped it.
                    if let timeout { alarm(UInt32(min(timeout.rounded(.up), Double(UInt32.max - 2))) + 2) }
                    let summary = try HDF5File.withFile(at: file) { file throws(HDF5Error) in try file.readEverything() }
                    print(summary.description)
                    return
                }
                let read = try await HDF5Verifier.thisProgram().verify(file, timeoutSeconds: timeout)
                print("\(file): reads whole: \(read)")
            } catch {
                CompilerFrontend.writeError("error: \(error)\n")
                throw ExitCode.failure
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a CSV file with a header row into a dataset file, as data/import-csv does in a pipeline."
        )

        @Argument(help: "The CSV file.")
        var csv: String

        @Option(help: "The label column; without it every column is a feature and the rows are unlabelled.")
        var label: String?

        @Option(name: .shortAndLong, help: "The dataset file to write (replaced if it exists).")
        var output: String

        @Option(help: "auto, classification, regression or unlabelled.")
        var task: String = "auto"

        @Option(help: "error, drop or impute-mean.")
        var missing: String = "error"

        @Option(help: "The field separator, one character.")
        var delimiter: String = ","

        @Option(help: "gzip level 1-9 for the output.")
        var compression: Int?

        func validate() throws {
            guard CSVImporter.TaskChoice(rawValue: task) != nil else { throw ValidationError("--task is auto, classification, regression or unlabelled") }
            guard CSVImporter.MissingPolicy(rawValue: missing) != nil else { throw ValidationError("--missing is error, drop or impute-mean") }
            guard delimiter.utf8.count == 1 else { throw ValidationError("--delimiter is one character") }
            if let compression, !(1...9).contains(compression) { throw ValidationError("--compression is a gzip level from 1 to 9") }
        }

        func run() async throws {
            var importer = CSVImporter(label: label)
            importer.task = CSVImporter.TaskChoice(rawValue: task)!
            importer.missing = CSVImporter.MissingPolicy(rawValue: missing)!
            importer.separator = delimiter.utf8.first!
            importer.compression = compression
            do {
                let summary = try importer.run(csv: csv, to: output)
                var line = "\(output): \(summary.rows) rows, \(summary.task.rawValue)"
                if !summary.classes.isEmpty { line += ", \(summary.classes.count) classes" }
                if summary.droppedRows > 0 { line += ", \(summary.droppedRows) rows dropped" }
                if summary.imputedValues > 0 { line += ", \(summary.imputedValues) values imputed" }
                print(line)
            } catch {
                CompilerFrontend.writeError("error: \(error)\n")
                throw ExitCode.failure
            }
        }
    }
}
