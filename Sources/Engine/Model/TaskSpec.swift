public import PipelineLanguage

/// Everything a worker needs to run one plan node, stored with the task when the run is submitted
/// so that a worker never recompiles the pipeline and a record shows exactly what ran.
public struct TaskSpec: Sendable, Codable, Hashable {
    public enum Action: Sendable, Codable, Hashable {
        case op(name: String, version: Int)
        case shell(command: String)
    }

    /// An output of an upstream node.
    public struct ArtifactReference: Sendable, Codable, Hashable {
        public var node: String
        public var output: String
    }

    public enum Argument: Sendable, Codable, Hashable {
        case value(Value)
        case artifact(ArtifactReference)
        case artifacts([ArtifactReference])
        /// A file of the project, by path relative to the project folder.
        case projectFile(String)
        /// An expression over upstream metrics, evaluated when the task runs.
        case deferred(expression: String)
        /// A file of the artifact store fixed when the plan was made (a market model).
        case pinned(sha256: String, type: String, source: String)
        /// A project file as an earlier run read it: its bytes come from the artifact store, so a
        /// reproduction reads what the original read, whatever the project holds now.
        case recordedFile(path: String, sha256: String)
    }

    public struct NamedArgument: Sendable, Codable, Hashable {
        public var name: String
        public var argument: Argument
    }

    public struct Output: Sendable, Codable, Hashable {
        public var name: String
        /// The artifact type's name (`dataset`, `model`, `metrics`, `file`, ...).
        public var type: String
        /// Where a command writes it, relative to its working folder.
        public var path: String?
    }

    public var nodeID: String
    public var step: String
    /// The nodes it waits for.
    public var needs: [String]
    public var action: Action
    public var arguments: [NamedArgument]
    public var outputs: [Output]
    public var env: [[String]]
    /// The condition left for run time, as expression text.
    public var condition: String?
    public var timeoutSeconds: Double?
    public var cache: Bool
    /// The plan key: what determines the outputs, given the inputs' producers.
    public var planKey: String
    /// The seed the op's context gets, derived from the plan key.
    public var seed: UInt64
    public var resources: ResourceSpec
    public var retry: RetryPolicySpec

    public var needsArtifacts: [ArtifactReference] {
        arguments.flatMap { named -> [ArtifactReference] in
            switch named.argument {
            case .artifact(let reference): [reference]
            case .artifacts(let references): references
            default: []
            }
        }
    }

    public var displayAction: String {
        switch action {
        case .op(let name, let version): "\(name)@\(version)"
        case .shell: "run"
        }
    }
}

extension TaskSpec {
    /// The spec of a plan node. Op arguments that name files of the project (`path` of
    /// `data/import-csv`) become ``Argument/projectFile(_:)`` so that their bytes enter the cache
    /// key and the run's record like any other input.
    public init(node: PlanNode, signatures: OpSignatureSet) {
        nodeID = node.id
        step = node.step
        needs = node.needs
        let signature: OpSignature?
        switch node.action {
        case .op(let name, let version):
            action = .op(name: name, version: version)
            signature = signatures[name]
        case .shell(let command):
            action = .shell(command: command)
            signature = nil
        }
        arguments = node.arguments.map { name, argument in
            let converted: Argument = switch argument {
            case .value(.string(let path)) where signature?.argument(name)?.isProjectFile == true:
                .projectFile(path)
            case .value(let value): .value(value)
            case .artifact(let reference): .artifact(ArtifactReference(node: reference.node, output: reference.output))
            case .artifacts(let references): .artifacts(references.map { ArtifactReference(node: $0.node, output: $0.output) })
            case .projectFile(let path): .projectFile(path)
            case .deferred(let expression, _): .deferred(expression: expression.description)
            case .pinned(let digest, let type, let source): .pinned(sha256: digest, type: type.rawValue, source: source)
            }
            return NamedArgument(name: name, argument: converted)
        }
        outputs = node.outputs.map { Output(name: $0.name, type: $0.type.rawValue, path: $0.path) }
        env = node.env.map { [$0.name, $0.value] }
        condition = node.condition?.description
        timeoutSeconds = node.timeoutSeconds
        cache = node.cache
        planKey = node.key
        seed = Digest.seed(fromHex: node.key)
        resources = ResourceSpec(
            cpu: node.resources.cpu,
            memoryBytes: node.resources.memoryBytes ?? 0,
            gpus: node.resources.gpu,
            labels: node.resources.labels
        )
        retry = RetryPolicySpec(
            attempts: node.retry.attempts,
            initialSeconds: node.retry.initialBackoffSeconds,
            factor: node.retry.backoffFactor,
            maximumSeconds: node.retry.maximumBackoffSeconds
        )
    }

    /// Whether the condition calls a status function (see ``RuntimeEvaluator``).
    public var usesStatusFunctions: Bool {
        guard let condition, let expression = try? ExpressionParser.parse(condition) else { return false }
        return RuntimeEvaluator.usesStatusFunctions(expression)
    }
}
