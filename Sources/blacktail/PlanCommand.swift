import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Compile a pipeline and show its plan: ordered nodes, resolved arguments, resources and keys.",
        discussion: """
            The JSON form is byte-identical for the same file and parameters on every machine. The text \
            form ends with what a run would reuse from the workspace's cache, step by step, and why not.
            """
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var parameters: ParameterOptions

    @Option(help: "text for people, json for machines.")
    var format: OutputFormat = .text

    @Flag(help: "Show the cache as a run with --no-cache would use it.")
    var noCache = false

    @OptionGroup var home: HomeOptions

    func run() async throws {
        let registry = FileManager.default.fileExists(atPath: home.workspace.storePath) ? try? SQLiteStore(path: home.workspace.storePath) : nil
        let compilation = await CompilerFrontend.compile(file, parameters: try parameters.parsed(), registry: registry)
        guard let plan = compilation.plan else { throw ExitCode.failure }
        switch format {
        case .text:
            print(PlanRenderer.text(plan, path: file), terminator: "")
            print(try await cacheReport(plan), terminator: "")
        case .json: print(plan.json.prettyText, terminator: "")
        }
    }

    /// Per node, whether a run now would reuse earlier outputs.
    private func cacheReport(_ plan: Plan) async throws -> String {
        let workspace = home.workspace
        guard FileManager.default.fileExists(atPath: workspace.storePath) else {
            return "\ncache: no runs in this workspace yet; every step will run\n"
        }
        let store = try SQLiteStore(path: workspace.storePath)
        let verdicts = try await CachePreview.verdicts(
            plan: plan, projectDirectory: FileManager.default.currentDirectoryPath,
            signatures: BuiltinOps.catalogue.signatures, store: store, artifacts: workspace.artifacts, noCache: noCache
        )
        var text = "\ncache (\(workspace.root)):\n"
        let width = plan.nodes.map(\.id.count).max() ?? 0
        for node in plan.nodes {
            let padded = node.id.padding(toLength: width, withPad: " ", startingAt: 0)
            switch verdicts[node.id] {
            case .hit(let runID, let from, let at)?:
                text += "  \(padded)  hit   outputs of \(from) in run \(runID) (\(RunSummary.timestamp(at)))\n"
            case .miss(let reason)?:
                text += "  \(padded)  miss  \(reason)\n"
            case nil:
                text += "  \(padded)  miss\n"
            }
        }
        return text
    }
}
