import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage

struct ReproduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Run a recorded run again, caching off, from its recorded inputs, and compare every output with the original.",
        discussion: """
            Give a run id, or a published model (NAME@VERSION) to reproduce the run that made it. \
            The report says "bit-for-bit identical", or lists each output that differs and by how much. \
            Steps that publish are not done again. The exit status is 1 when anything differs.
            """
    )

    @Argument(help: "A run id (or a prefix of one), or a published model: NAME, NAME@VERSION or NAME@ALIAS.")
    var target: String

    @OptionGroup var worker: WorkerOptions
    @OptionGroup var home: HomeOptions

    @Flag(help: "One line per event, even on a terminal.")
    var plain = false

    @Option(help: "text or json (the report).")
    var format: OutputFormat = .text

    func run() async throws {
        let (workspace, store) = try home.open()
        let runID = try await originalRun(store)
        let sideEffects = Set(BuiltinOps.catalogue.entries.filter(\.signature.hasSideEffects).map(\.signature.name))
        let (submission, left) = try await Reproduction.submission(of: runID, store: store, sideEffectOps: sideEffects)
        let newRun = try await LocalRun.execute(
            submission, store: store, workspace: workspace, configuration: try worker.configuration(),
            live: format == .text && !plain && isatty(STDOUT_FILENO) == 1
        ) { _, newRun in "reproducing run \(runID) as run \(newRun), caching off" }
        let report = try await Reproduction.compare(original: runID, reproduced: newRun, left: left, store: store, artifacts: workspace.artifacts)
        switch format {
        case .text: print(Self.text(report), terminator: "")
        case .json: print(Self.json(report).prettyText, terminator: "")
        }
        if !report.isIdentical { throw ExitCode.failure }
    }

    private func originalRun(_ store: SQLiteStore) async throws -> String {
        if let run = try await store.run(target) { return run.id }
        guard let reference = try? MarketReference(parsing: target) else {
            throw CLIError("no run \(target) in this home, and it is not a model name (NAME or NAME@VERSION)")
        }
        let version: MarketVersion
        do {
            version = try await store.resolve(reference)
        } catch {
            throw CLIError("no run \(target) in this home, and \(error)")
        }
        guard let lineage = try version.manifest().lineage else {
            throw CLIError("\(version.reference) was published from a file, with no recorded run to reproduce")
        }
        guard try await store.run(lineage.run) != nil else {
            throw CLIError("\(version.reference) was made by run \(lineage.run), which is not in this home's store")
        }
        return lineage.run
    }

    static func text(_ report: Reproduction.Report) -> String {
        var lines = ["", "reproduction of run \(report.originalRun) (as run \(report.reproducedRun)):"]
        let width = report.steps.map(\.node.count).max() ?? 0
        for step in report.steps {
            let name = step.node.padding(toLength: width, withPad: " ", startingAt: 0)
            if step.matches {
                lines.append("  \(name)  identical" + (step.identical.isEmpty ? " (\(step.originalState.rawValue), no outputs)" : ": " + step.identical.joined(separator: ", ")))
                continue
            }
            if let note = step.note { lines.append("  \(name)  \(note)") }
            for (output, difference) in step.differences {
                lines.append("  \(name)  \(output) DIFFERS: \(difference.summary)")
                for entry in difference.entries.prefix(12) { lines.append("      \(entry.description)") }
                if difference.entries.count > 12 { lines.append("      ... and \(difference.entries.count - 12) more") }
            }
        }
        let compared = report.outputCount
        if report.isIdentical {
            lines.append("bit-for-bit identical: \(compared) output\(compared == 1 ? "" : "s") of \(report.steps.filter { $0.note == nil }.count) steps")
        } else {
            let differing = report.steps.reduce(0) { $0 + $1.differences.count }
            lines.append("NOT identical: \(differing) of \(compared) outputs differ")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ report: Reproduction.Report) -> JSONValue {
        [
            "original_run": .string(report.originalRun),
            "reproduced_run": .string(report.reproducedRun),
            "identical": .bool(report.isIdentical),
            "steps": .array(report.steps.map { step in
                [
                    "node": .string(step.node),
                    "original_state": .string(step.originalState.rawValue),
                    "reproduced_state": JSONValue(step.reproducedState?.rawValue),
                    "identical_outputs": .array(step.identical.map(JSONValue.string)),
                    "note": JSONValue(step.note),
                    "differences": .array(step.differences.map { output, difference in
                        [
                            "output": .string(output),
                            "summary": .string(difference.summary),
                            "largest_absolute_difference": difference.largestAbsoluteDifference.map(JSONValue.double) ?? .null,
                            "entries": .array(difference.entries.map { .string($0.description) }),
                        ]
                    }),
                ]
            }),
        ]
    }
}
