/// What a built-in op takes and gives: the contract the compiler checks `uses:` steps against.
///
/// The signature is plain data so that the compiler needs no op code; the op's implementation and
/// its `run` live in BlacktailOps.
public struct OpSignature: Sendable {
    /// One argument of `with:`.
    public struct Argument: Sendable {
        public enum Presence: Sendable, Hashable {
            case required
            case optional
            case defaultValue(Value)
        }

        public var name: String
        /// A value type, an artifact type (the argument is an input), or a list of either.
        public var type: ValueType
        public var presence: Presence
        public var minimum: Double?
        public var maximum: Double?
        public var choices: [Value]?
        public var summary: String
        /// Whether a string argument names a file of the project (relative to the project folder):
        /// the engine then resolves it, and the file's bytes enter the cache key and the run's record.
        public var isProjectFile: Bool

        public init(
            _ name: String,
            _ type: ValueType,
            _ presence: Presence = .required,
            minimum: Double? = nil,
            maximum: Double? = nil,
            choices: [Value]? = nil,
            projectFile: Bool = false,
            summary: String
        ) {
            self.name = name
            self.type = type
            self.presence = presence
            self.minimum = minimum
            self.maximum = maximum
            self.choices = choices
            self.isProjectFile = projectFile
            self.summary = summary
        }

        /// Whether the argument is an input artifact (or a list of them).
        public var isInput: Bool { type.isArtifact }
    }

    /// One output the op writes.
    public struct Output: Sendable {
        public var name: String
        public var type: ArtifactType
        public var summary: String

        public init(_ name: String, _ type: ArtifactType, summary: String) {
            self.name = name
            self.type = type
            self.summary = summary
        }
    }

    /// `namespace/op`, as written after `uses:`.
    public var name: String
    /// Raised whenever the op's results change for the same inputs; it enters every cache key.
    public var version: Int
    public var summary: String
    public var arguments: [Argument]
    public var outputs: [Output]
    /// Whether the op changes something outside the run (it publishes to the market): its steps
    /// are never cached, and reproducing a run does not do them again.
    public var hasSideEffects: Bool

    public init(name: String, version: Int, summary: String, arguments: [Argument], outputs: [Output], hasSideEffects: Bool = false) {
        self.name = name
        self.version = version
        self.summary = summary
        self.arguments = arguments
        self.outputs = outputs
        self.hasSideEffects = hasSideEffects
    }

    public func argument(_ name: String) -> Argument? {
        arguments.first { $0.name == name }
    }

    /// The signature as JSON, for `blacktail ops --format json` and editor tooling.
    public var json: JSONValue {
        .object([
            "name": .string(name),
            "version": .int(version),
            "summary": .string(summary),
            "arguments": .array(arguments.map { argument in
                var object: [String: JSONValue] = [
                    "name": .string(argument.name),
                    "type": .string(argument.type.description),
                    "summary": .string(argument.summary),
                ]
                switch argument.presence {
                case .required: object["required"] = true
                case .optional: object["required"] = false
                case .defaultValue(let value):
                    object["required"] = false
                    object["default"] = value.json
                }
                if let minimum = argument.minimum { object["minimum"] = .double(minimum) }
                if let maximum = argument.maximum { object["maximum"] = .double(maximum) }
                if let choices = argument.choices { object["choices"] = .array(choices.map(\.json)) }
                if argument.isProjectFile { object["project_file"] = true }
                return .object(object)
            }),
            "outputs": .array(outputs.map { output in
                ["name": .string(output.name), "type": .string(output.type.rawValue), "summary": .string(output.summary)]
            }),
            "side_effects": .bool(hasSideEffects),
        ])
    }
}

/// The signatures the compiler knows, by name.
public struct OpSignatureSet: Sendable {
    private var byName: [String: OpSignature]
    /// The names in catalogue order.
    public private(set) var names: [String]

    public init(_ signatures: [OpSignature]) {
        byName = [:]
        names = []
        for signature in signatures where byName[signature.name] == nil {
            byName[signature.name] = signature
            names.append(signature.name)
        }
    }

    public subscript(name: String) -> OpSignature? { byName[name] }

    public var all: [OpSignature] { names.map { byName[$0]! } }
}
