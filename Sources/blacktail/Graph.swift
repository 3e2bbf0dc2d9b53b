import ArgumentParser
import Engine
import PipelineLanguage

extension GraphRenderer.Format: ExpressibleByArgument {}

struct Graph: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a pipeline's plan as a Graphviz (dot) or Mermaid graph.",
        discussion: "Example: blacktail graph pipelines/iris.yaml --format dot | dot -Tsvg > iris.svg"
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @OptionGroup var parameters: ParameterOptions

    @Option(help: "dot or mermaid.")
    var format: GraphRenderer.Format = .dot

    func run() async throws {
        let compilation = await CompilerFrontend.compile(file, parameters: try parameters.parsed(), registry: CompilerFrontend.defaultRegistry())
        guard let plan = compilation.plan else { throw ExitCode.failure }
        print(GraphRenderer.render(plan, as: format), terminator: "")
    }
}
