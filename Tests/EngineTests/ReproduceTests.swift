import BlacktailData
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage
import Testing

/// An op that is not deterministic on purpose: it adds noise from the system's random source to
/// one feature value.
private struct NoisyOp: Op {
    let signature = OpSignature(
        name: "test/noisy", version: 1, summary: "Adds unseeded noise to the first feature value.",
        arguments: [.init("data", .artifact(.dataset), summary: "a dataset")],
        outputs: [.init("dataset", .dataset, summary: "the dataset with noise")]
    )

    func run(_ context: OpContext) async throws {
        var dataset = try DatasetFile.read(try context.inputPath("data"))
        dataset.features[0] += Float.random(in: 0.25...0.5)
        try DatasetFile.write(dataset, to: try context.outputPath("dataset"))
    }
}

@Suite struct ReproduceTests {
    static let yaml = """
        version: 1
        name: noisy
        steps:
          prep:
            uses: data/import-csv
            with: { path: iris.csv, label: species, task: classification }
          noise:
            uses: test/noisy
            with: { data: "${{ steps.prep.outputs.dataset }}" }
          split:
            uses: data/split
            with: { input: "${{ steps.noise.outputs.dataset }}", seed: 3 }
        """

    @Test func aStepMadeNonDeterministicIsReportedWithTheLargestDifference() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        // The project is a folder of its own, so that its CSV can change after the run.
        let project = "\(bench.folder)/project"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        let csv = try String(contentsOfFile: "\(TestBench.projectRoot)/datasets/iris.csv", encoding: .utf8)
        try csv.write(toFile: "\(project)/iris.csv", atomically: true, encoding: .utf8)

        let engine = EngineOps.catalogue(store: bench.store, workspace: bench.workspace)
        let catalogue = OpCatalogue(
            signatures: engine.entries.map(\.signature) + [NoisyOp().signature],
            implementations: engine.entries.compactMap(\.implementation) + [NoisyOp()]
        )
        let path = "\(bench.folder)/noisy.yaml"
        try Self.yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let plan = try #require(PipelineCompiler(signatures: catalogue.signatures).compile(path: path).plan)
        let submission = Submitter.submission(plan: plan, pipelinePath: path, projectDirectory: project, signatures: catalogue.signatures)
        let runID = try await bench.store.submit(submission, now: Date().timeIntervalSince1970).runID
        var configuration = Worker.Configuration(concurrency: 2, cpu: 2)
        configuration.pollSeconds = 0.05
        let worker = Worker(store: bench.store, executor: TaskExecutor(workspace: bench.workspace, catalogue: catalogue), configuration: configuration)
        try await bench.runToEnd(runID, worker: worker)
        #expect(try await bench.state(runID) == .succeeded)

        // The project file changes after the run; the reproduction reads the recorded copy.
        try "sepal,species\n1,a\n".write(toFile: "\(project)/iris.csv", atomically: true, encoding: .utf8)
        let report = try await bench.reproduce(runID, worker: worker)
        #expect(!report.isIdentical)
        let steps = Dictionary(uniqueKeysWithValues: report.steps.map { ($0.node, $0) })
        #expect(steps["prep"]?.matches == true)
        let noise = try #require(steps["noise"])
        #expect(noise.differences.map(\.output) == ["dataset"])
        let difference = try #require(noise.differences.first?.difference)
        let largest = try #require(difference.largestAbsoluteDifference)
        // Two draws from [0.25, 0.5] differ by less than 0.25.
        #expect(largest > 0 && largest < 0.26)
        #expect(difference.entries.contains { $0.path.contains("features") })
        // The split of a changed dataset differs too, and says so.
        #expect(steps["split"]?.differences.isEmpty == false)
    }
}
