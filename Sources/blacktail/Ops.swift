import ArgumentParser
import BlacktailOps
import Engine
import PipelineLanguage

struct Ops: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the built-in ops with their signatures.",
        discussion: "An op marked 'not yet runnable' validates and plans, but this build cannot run it."
    )

    @Argument(help: "Show only this op, or the ops of this namespace (data, train, eval, model, market).")
    var name: String?

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let catalogue = BuiltinOps.catalogue
        var entries = catalogue.entries
        if let name {
            entries = entries.filter { $0.signature.name == name || $0.signature.name.hasPrefix(name + "/") }
            guard !entries.isEmpty else {
                let names = catalogue.entries.map(\.signature.name)
                CompilerFrontend.writeError("error: no op or namespace '\(name)'; the ops are \(names.joined(separator: ", "))\n")
                throw ExitCode.failure
            }
        }
        switch format {
        case .json:
            let subset = OpCatalogue(signatures: entries.map(\.signature), implementations: entries.compactMap(\.implementation))
            guard case .array(let items) = subset.json else { return }
            let marked: [JSONValue] = items.map { item in
                guard case .object(var object) = item, case .string(let name)? = object["name"], EngineOps.names.contains(name) else { return item }
                object["runnable"] = .bool(true)
                return .object(object)
            }
            print(JSONValue.array(marked).prettyText, terminator: "")
        case .text:
            print(entries.map(Self.describe).joined(separator: "\n"), terminator: "")
        }
    }

    static func describe(_ entry: OpCatalogue.Entry) -> String {
        let signature = entry.signature
        let runnable = entry.isRunnable || EngineOps.names.contains(signature.name)
        var text = "\(signature.name)@\(signature.version)\(runnable ? "" : "  (not yet runnable)")\n"
        text += "  \(signature.summary)\n"
        if !signature.arguments.isEmpty {
            text += "  with:\n"
            let width = signature.arguments.map(\.name.count).max() ?? 0
            for argument in signature.arguments {
                var detail = argument.type.description
                switch argument.presence {
                case .required: detail += ", required"
                case .optional: detail += ", optional"
                case .defaultValue(let value): detail += ", default \(value.literal)"
                }
                if let minimum = argument.minimum { detail += ", min \(Value.float(minimum).interpolated)" }
                if let maximum = argument.maximum { detail += ", max \(Value.float(maximum).interpolated)" }
                if let choices = argument.choices { detail += ", one of " + choices.map(\.interpolated).joined(separator: "|") }
                let padding = String(repeating: " ", count: width - argument.name.count)
                text += "    \(argument.name)\(padding)  \(argument.summary) (\(detail))\n"
            }
        }
        if !signature.outputs.isEmpty {
            text += "  outputs:\n"
            let width = signature.outputs.map(\.name.count).max() ?? 0
            for output in signature.outputs {
                let padding = String(repeating: " ", count: width - output.name.count)
                text += "    \(output.name)\(padding)  \(output.type.rawValue): \(output.summary)\n"
            }
        }
        return text
    }
}
