import BlacktailOps
import Engine
import Foundation
import PipelineLanguage
import Testing

/// The example pipelines run end to end with the local engine (some with fewer epochs, trees or
/// episodes, to keep the suite short), and reproduce bit for bit.
@Suite struct ExamplePipelineTests {
    static let examples: [(file: String, parameters: [(name: String, value: String)])] = [
        ("iris-classifier.yaml", [("epochs", "50")]),
        ("diabetes-ridge.yaml", []),
        ("breast-cancer-custom.yaml", []),
        ("digits-clusters.yaml", []),
        ("digits-sweep.yaml", [("epochs", "3")]),
        ("digits-semi-supervised.yaml", []),
        ("digits-transfer.yaml", [("epochs", "3")]),
        ("reinforcement.yaml", []),
        ("digits-ensembles.yaml", [("trees", "30"), ("rounds", "20")]),
    ]

    @Test(arguments: examples.indices)
    func anExamplePipelineRunsToTheEnd(_ index: Int) async throws {
        let (file, parameters) = Self.examples[index]
        let bench = try TestBench()
        defer { bench.remove() }
        try KeyRing(folder: bench.workspace.keysFolder).create(name: "tests")
        let text = try String(contentsOfFile: "\(TestBench.projectRoot)/pipelines/\(file)", encoding: .utf8)
        let runID = try await bench.store.submit(try bench.submission(text, parameters: parameters), now: Date().timeIntervalSince1970).runID
        let tasks = try await bench.runToEnd(runID)
        let failed = tasks.values.filter { $0.snapshot.state != .succeeded }.map { "\($0.spec.nodeID): \($0.snapshot.message ?? "\($0.snapshot.state)")" }
        #expect(failed.isEmpty, "\(file): \(failed.sorted().joined(separator: "; "))")
        #expect(try await bench.state(runID) == .succeeded)

        let report = try await bench.reproduce(runID)
        let differing = report.steps.filter { !$0.matches && $0.reproducedState != nil }.map { step in
            "\(step.node): \(step.note ?? "") \(step.differences.map { "\($0.output): \($0.difference)" }.joined(separator: "; "))"
        }
        #expect(report.isIdentical, "\(file) does not reproduce: \(differing.joined(separator: "\n"))")
        #expect(report.outputCount > 0)
    }
}
