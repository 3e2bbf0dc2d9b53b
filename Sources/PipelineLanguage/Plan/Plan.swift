/// A compiled pipeline: immutable nodes in topological order, each with its dependencies and a
/// content-derived key. The same file and parameters give the same plan, byte for byte.
public struct Plan: Sendable {
    /// The identifier written into plan JSON; raised when the layout changes.
    public static let format = "blacktail.plan/1"

    public let pipelineName: String
    public let description: String?
    /// sha256 of the pipeline file's bytes.
    public let fileDigest: String
    public let params: [(name: String, value: Value)]
    public let schedules: [String]
    /// The nodes, dependencies first.
    public let nodes: [PlanNode]

    public func node(_ id: String) -> PlanNode? {
        nodes.first { $0.id == id }
    }

    /// Every edge as (from, to): `to` needs `from`.
    public var edges: [(from: String, to: String)] {
        nodes.flatMap { node in node.needs.map { ($0, node.id) } }
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "format": .string(Self.format),
            "pipeline": [
                "name": .string(pipelineName),
                "description": JSONValue(description),
                "file_sha256": .string(fileDigest),
            ],
            "params": .object(Dictionary(uniqueKeysWithValues: params.map { ($0.name, $0.value.json) })),
            "schedule": .array(schedules.map(JSONValue.string)),
            "nodes": .array(nodes.map(\.json)),
        ]
        object["edges"] = .array(edges.map { ["from": .string($0.from), "to": .string($0.to)] })
        return .object(object)
    }
}

/// One unit of work: a step, or one matrix combination of a step.
public struct PlanNode: Sendable {
    public enum Action: Sendable {
        case op(name: String, version: Int)
        /// A shell command; `${{ inputs.NAME }}` and `${{ outputs.NAME }}` in it are replaced by
        /// the (shell-quoted) paths when it runs.
        case shell(command: String)
    }

    /// An argument of an op, or an input of a command, as resolved at plan time.
    public indirect enum Argument: Sendable {
        case value(Value)
        case artifact(ArtifactReference)
        case artifacts([ArtifactReference])
        /// A file of the project, read by path relative to the working folder.
        case projectFile(String)
        /// A value known when the run gets here (a metric), as an expression over upstream outputs,
        /// with the type it will have.
        case deferred(Expression, type: ValueType)
        /// A file of the artifact store known by its digest when the plan is made (a market
        /// model), with where it came from (`market:iris-mlp@1.0.0`).
        case pinned(sha256: String, type: ArtifactType, source: String)

        var json: JSONValue {
            switch self {
            case .value(let value): value.json
            case .artifact(let reference): reference.json
            case .artifacts(let references): .array(references.map(\.json))
            case .projectFile(let path): ["path": .string(path)]
            case .deferred(let expression, let type): ["expression": .string(expression.description), "type": .string(type.description)]
            case .pinned(let digest, let type, let source): ["sha256": .string(digest), "type": .string(type.rawValue), "source": .string(source)]
            }
        }

        /// The argument with artifact references replaced by their producers' keys, for hashing.
        func keyed(by keys: [String: String]) -> JSONValue {
            func keyed(_ reference: ArtifactReference) -> JSONValue {
                ["key": .string(keys[reference.node] ?? ""), "output": .string(reference.output)]
            }
            switch self {
            case .artifact(let reference): return keyed(reference)
            case .artifacts(let references): return .array(references.map(keyed))
            default: return json
            }
        }

        var references: [ArtifactReference] {
            switch self {
            case .artifact(let reference): [reference]
            case .artifacts(let references): references
            default: []
            }
        }
    }

    public struct Output: Sendable {
        public var name: String
        public var type: ArtifactType
        /// Where a command writes it, relative to its working folder; nil lets the engine choose.
        public var path: String?
    }

    public let id: String
    public let step: String
    public let matrix: [(axis: String, value: Value)]
    public let action: Action
    /// Op arguments, or a command's inputs, by name in declaration order.
    public let arguments: [(name: String, value: Argument)]
    public let outputs: [Output]
    /// The nodes this one waits for, in plan order.
    public let needs: [String]
    /// The condition left for run time (it reads metrics or upstream status); nil runs always
    /// when the dependencies succeeded.
    public let condition: Expression?
    public let env: [(name: String, value: String)]
    public let resources: ResourceRequest
    public let retry: RetryPolicy
    public let timeoutSeconds: Double?
    public let cache: Bool
    /// sha256 of what determines the node's outputs: its action, resolved arguments, environment,
    /// declared outputs and the keys of the nodes it needs.
    public let key: String

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id),
            "step": .string(step),
            "arguments": .object(Dictionary(uniqueKeysWithValues: arguments.map { ($0.name, $0.value.json) })),
            "outputs": .object(Dictionary(uniqueKeysWithValues: outputs.map { output in
                var value: [String: JSONValue] = ["type": .string(output.type.rawValue)]
                if let path = output.path { value["path"] = .string(path) }
                return (output.name, .object(value))
            })),
            "needs": .array(needs.map(JSONValue.string)),
            "if": condition.map { .string($0.description) } ?? .null,
            "env": .object(Dictionary(uniqueKeysWithValues: env.map { ($0.name, .string($0.value)) })),
            "resources": resources.json,
            "retry": retry.json,
            "timeout_seconds": timeoutSeconds.map(JSONValue.double) ?? .null,
            "cache": .bool(cache),
            "key": .string(key),
        ]
        switch action {
        case .op(let name, let version): object["uses"] = ["op": .string(name), "version": .int(version)]
        case .shell(let command): object["run"] = .string(command)
        }
        if !matrix.isEmpty {
            object["matrix"] = .object(Dictionary(uniqueKeysWithValues: matrix.map { ($0.axis, $0.value.json) }))
        }
        return .object(object)
    }
}

/// What a node needs of a worker.
public struct ResourceRequest: Sendable, Hashable {
    static let keys = ["cpu", "memory", "gpu", "labels"]

    /// CPU cores; also the thread budget the op gets.
    public var cpu: Double = 1
    public var memoryBytes: Int64?
    public var gpu: Int = 0
    /// Labels a worker must carry (`a100`, `eu-west`).
    public var labels: [String] = []

    public var json: JSONValue {
        [
            "cpu": .double(cpu),
            "memory_bytes": memoryBytes.map { .int(Int($0)) } ?? .null,
            "gpu": .int(gpu),
            "labels": .array(labels.map(JSONValue.string)),
        ]
    }
}

/// How often and how patiently a failed node is tried again.
public struct RetryPolicy: Sendable, Hashable {
    static let keys = ["attempts", "backoff"]
    static let backoffKeys = ["initial", "factor", "max"]

    /// Tries in all, the first one included.
    public var attempts: Int = 1
    public var initialBackoffSeconds: Double = 10
    public var backoffFactor: Double = 2
    public var maximumBackoffSeconds: Double = 600

    public var json: JSONValue {
        [
            "attempts": .int(attempts),
            "backoff": [
                "initial_seconds": .double(initialBackoffSeconds),
                "factor": .double(backoffFactor),
                "max_seconds": .double(maximumBackoffSeconds),
            ],
        ]
    }
}
