import ArgumentParser
import Engine
import PipelineLanguage

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pipeline files and report every error and warning.",
        discussion: "Exits with status 1 when any file has an error, 0 otherwise (warnings included)."
    )

    @Argument(help: "The pipeline files to check.")
    var files: [String]

    @OptionGroup var parameters: ParameterOptions

    @Option(help: "text: diagnostics as file:line:column lines on standard error; json: one document on standard output.")
    var format: OutputFormat = .text

    func run() async throws {
        let parameters = try parameters.parsed()
        var failed = false
        var reports: [JSONValue] = []
        let registry = CompilerFrontend.defaultRegistry()
        for file in files {
            let compilation: Compilation
            switch format {
            case .text:
                compilation = await CompilerFrontend.compile(file, parameters: parameters, registry: registry)
                if let plan = compilation.plan {
                    let warnings = compilation.diagnostics.count { $0.severity == .warning }
                    let suffix = warnings == 0 ? "" : ", \(warnings) warning\(warnings == 1 ? "" : "s")"
                    print("\(file): ok (\(plan.nodes.count) node\(plan.nodes.count == 1 ? "" : "s")\(suffix))")
                }
            case .json:
                compilation = await CompilerFrontend.compilation(of: file, parameters: parameters, registry: registry)
                reports.append([
                    "file": .string(file),
                    "ok": .bool(!compilation.hasErrors),
                    "nodes": compilation.plan.map { .int($0.nodes.count) } ?? .null,
                    "diagnostics": .array(compilation.diagnostics.map { DiagnosticRenderer.json($0, in: compilation.source) }),
                ])
            }
            failed = failed || compilation.hasErrors
        }
        if format == .json {
            print(JSONValue.object(["files": .array(reports)]).prettyText, terminator: "")
        }
        if failed { throw ExitCode.failure }
    }
}
