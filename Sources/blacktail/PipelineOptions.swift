import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage

/// How a command writes its results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// Parameter values given as `-p name=value`.
struct ParameterOptions: ParsableArguments {
    @Option(
        name: [.customShort("p"), .customLong("param")],
        help: ArgumentHelp("Set a pipeline parameter, overriding its default.", valueName: "name=value")
    )
    var parameters: [String] = []

    func parsed() throws -> [(name: String, value: String)] {
        try parameters.map { text in
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw ValidationError("'-p \(text)': write a parameter as name=value, e.g. -p lr=0.01")
            }
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
    }
}

/// Compiling files for the commands, and writing their diagnostics.
enum CompilerFrontend {
    static let compiler = PipelineCompiler(signatures: BuiltinOps.catalogue.signatures)

    /// Compiles a file, with its market models looked up in `registry`.
    static func compilation(of path: String, parameters: [(name: String, value: String)], registry: (any MarketRegistry)?) async -> Compilation {
        var compiler = compiler
        compiler.marketModels = await marketModels(of: path, registry: registry)
        return compiler.compile(path: path, parameters: parameters)
    }

    /// Compiles a file, as ``compilation(of:parameters:registry:)``, and writes its diagnostics to
    /// standard error as text.
    static func compile(_ path: String, parameters: [(name: String, value: String)], registry: (any MarketRegistry)?) async -> Compilation {
        let compilation = await compilation(of: path, parameters: parameters, registry: registry)
        writeDiagnostics(of: compilation)
        return compilation
    }

    static func writeDiagnostics(of compilation: Compilation) {
        guard !compilation.diagnostics.isEmpty else { return }
        var text = DiagnosticRenderer.text(compilation.diagnostics, in: compilation.source)
        if let summary = DiagnosticRenderer.summary(compilation.diagnostics) {
            text += "\(summary) in \(compilation.source.path)\n"
        }
        writeError(text)
    }

    static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
