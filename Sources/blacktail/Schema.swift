import ArgumentParser
import BlacktailOps
import PipelineLanguage

struct Schema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a JSON Schema of pipeline files, for editors to complete and check them.",
        discussion: """
            The project keeps a copy in docs/pipeline.schema.json; a pipeline file points an editor at it with a first line
            '# yaml-language-server: $schema=../docs/pipeline.schema.json'.
            """
    )

    func run() async throws {
        print(PipelineSchema.json(signatures: BuiltinOps.catalogue.signatures).prettyText, terminator: "")
    }
}
