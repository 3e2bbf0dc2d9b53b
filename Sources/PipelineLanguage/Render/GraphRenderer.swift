import Foundation

/// Draws a plan's graph for Graphviz (`dot`) or Mermaid, one box per node, edges labelled with the
/// outputs that flow along them.
public enum GraphRenderer {
    public enum Format: String, Sendable, CaseIterable {
        case dot
        case mermaid
    }

    public static func render(_ plan: Plan, as format: Format) -> String {
        switch format {
        case .dot: dot(plan)
        case .mermaid: mermaid(plan)
        }
    }

    private static func label(_ node: PlanNode) -> [String] {
        var lines = [node.id]
        switch node.action {
        case .op(let name, _): lines.append(name)
        case .shell: lines.append("run")
        }
        if !node.matrix.isEmpty {
            lines.append(node.matrix.map { "\($0.axis)=\($0.value.interpolated)" }.joined(separator: ", "))
        }
        return lines
    }

    /// The output names carried from each producer to each consumer.
    private static func edgeLabels(_ plan: Plan) -> [String: [String]] {
        var labels: [String: [String]] = [:]
        for node in plan.nodes {
            for (_, argument) in node.arguments {
                for reference in argument.references {
                    let key = reference.node + "\u{0}" + node.id
                    if !(labels[key]?.contains(reference.output) ?? false) {
                        labels[key, default: []].append(reference.output)
                    }
                }
            }
        }
        return labels
    }

    private static func dot(_ plan: Plan) -> String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let labels = edgeLabels(plan)
        var output = "digraph \(quoted(plan.pipelineName)) {\n"
        output += "  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        for node in plan.nodes {
            let text = label(node).joined(separator: "\n")
            output += "  \(quoted(node.id)) [label=\(quoted(text))\(node.condition == nil ? "" : ", style=\"rounded,dashed\"")];\n"
        }
        for node in plan.nodes {
            for need in node.needs {
                let outputs = labels[need + "\u{0}" + node.id] ?? []
                let attributes = outputs.isEmpty ? " [style=dotted]" : " [label=\(quoted(outputs.joined(separator: ", ")))]"
                output += "  \(quoted(need)) -> \(quoted(node.id))\(attributes);\n"
            }
        }
        output += "}\n"
        return output
    }

    private static func mermaid(_ plan: Plan) -> String {
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "\"", with: "#quot;")
        }
        let labels = edgeLabels(plan)
        var ids: [String: String] = [:]
        var output = "flowchart LR\n"
        for (index, node) in plan.nodes.enumerated() {
            let id = "n\(index)"
            ids[node.id] = id
            let text = label(node).map(escaped).joined(separator: "<br/>")
            output += node.condition == nil ? "  \(id)[\"\(text)\"]\n" : "  \(id){{\"\(text)\"}}\n"
        }
        for node in plan.nodes {
            for need in node.needs {
                let outputs = labels[need + "\u{0}" + node.id] ?? []
                let arrow = outputs.isEmpty ? "-.->" : "-->|\(escaped(outputs.joined(separator: ", ")))|"
                output += "  \(ids[need]!) \(arrow) \(ids[node.id]!)\n"
            }
        }
        return output
    }
}
