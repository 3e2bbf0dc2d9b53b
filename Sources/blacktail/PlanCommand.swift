import ArgumentParser
import PipelineLanguage

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Compile a pipeline and show its plan: ordered nodes, resolved arguments, resources and keys.",
        discussion: "The JSON form is byte-identical for the same file and parameters on every machine."
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var parameters: ParameterOptions

    @Option(help: "text for people, json for machines.")
    var format: OutputFormat = .text

    func run() async throws {
        let compilation = CompilerFrontend.compile(file, parameters: try parameters.parsed())
        guard let plan = compilation.plan else { throw ExitCode.failure }
        switch format {
        case .text: print(PlanRenderer.text(plan, path: file), terminator: "")
        case .json: print(plan.json.prettyText, terminator: "")
        }
    }
}
