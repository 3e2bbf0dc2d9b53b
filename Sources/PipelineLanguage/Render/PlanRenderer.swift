/// The plan as text for people: the nodes in order, what each runs with, and its key.
public enum PlanRenderer {
    public static func text(_ plan: Plan, path: String) -> String {
        var output = "plan \(plan.pipelineName) from \(path) (sha256 \(plan.fileDigest.prefix(12)))\n"
        if !plan.params.isEmpty {
            output += "params: " + plan.params.map { "\($0.name)=\($0.value.literal)" }.joined(separator: ", ") + "\n"
        }
        if !plan.schedules.isEmpty {
            output += "schedule (UTC): " + plan.schedules.joined(separator: "; ") + "\n"
        }
        output += "\(plan.nodes.count) node\(plan.nodes.count == 1 ? "" : "s"), in order:\n"
        let width = String(plan.nodes.count).count
        for (index, node) in plan.nodes.enumerated() {
            let number = String(index + 1)
            let indent = String(repeating: " ", count: width + 4)
            output += "\n" + String(repeating: " ", count: width - number.count) + "\(number).  \(node.id)"
            switch node.action {
            case .op(let name, let version): output += "  uses \(name)@\(version)"
            case .shell: output += "  run"
            }
            output += "\n"
            if !node.matrix.isEmpty {
                output += indent + "matrix: " + node.matrix.map { "\($0.axis)=\($0.value.literal)" }.joined(separator: ", ") + "\n"
            }
            if !node.needs.isEmpty {
                output += indent + "needs: " + node.needs.joined(separator: ", ") + "\n"
            }
            if case .shell(let command) = node.action {
                for (offset, line) in command.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where !(line.isEmpty && offset > 0) {
                    output += indent + (offset == 0 ? "$ " : "  ") + line + "\n"
                }
            }
            for (name, argument) in node.arguments {
                output += indent + "\(name) = \(describe(argument))\n"
            }
            if !node.outputs.isEmpty {
                output += indent + "outputs: " + node.outputs.map { "\($0.name) (\($0.type.rawValue)\($0.path.map { ", " + $0 } ?? ""))" }.joined(separator: ", ") + "\n"
            }
            if let condition = node.condition {
                output += indent + "if: \(condition)\n"
            }
            var settings = ["cpu \(Value.float(node.resources.cpu).interpolated)"]
            if let memory = node.resources.memoryBytes { settings.append("memory \(memory) bytes") }
            if node.resources.gpu > 0 { settings.append("gpu \(node.resources.gpu)") }
            if !node.resources.labels.isEmpty { settings.append("labels " + node.resources.labels.joined(separator: ",")) }
            if node.retry.attempts > 1 { settings.append("attempts \(node.retry.attempts)") }
            if let timeout = node.timeoutSeconds { settings.append("timeout \(Value.float(timeout).interpolated)s") }
            if !node.cache { settings.append("cache off") }
            output += indent + settings.joined(separator: ", ") + "\n"
            output += indent + "key \(node.key)\n"
        }
        return output
    }

    private static func describe(_ argument: PlanNode.Argument) -> String {
        switch argument {
        case .value(let value): value.literal
        case .artifact(let reference): "\(reference.node).\(reference.output) (\(reference.type.rawValue))"
        case .artifacts(let references): "[" + references.map { "\($0.node).\($0.output)" }.joined(separator: ", ") + "]"
        case .projectFile(let path): "file \(path)"
        case .deferred(let expression, _): "at run time: \(expression)"
        case .pinned(let digest, _, let source): "\(source) (sha256 \(digest.prefix(12)))"
        }
    }
}
