/// A JSON Schema (draft-07) of pipeline files, so that editors complete and check them.
///
/// It knows the ops of a catalogue: `uses:` offers their names, and `with:` their arguments with
/// types, defaults, choices and descriptions. The compiler remains the authority: the schema
/// cannot see references, cycles or types that flow through expressions.
public enum PipelineSchema {
    static let identifierPattern = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
    static let expressionPattern = "\\$\\{\\{.*\\}\\}"

    public static func json(signatures: OpSignatureSet) -> JSONValue {
        let expression: JSONValue = ["type": "string", "pattern": .string(expressionPattern), "description": "an expression: ${{ ... }}"]
        let scalar: JSONValue = ["type": ["string", "number", "boolean"]]
        let value: JSONValue = ["anyOf": [scalar, ["type": "array", "items": scalar]]]
        let duration: JSONValue = ["type": "string", "pattern": "^([0-9.]+(ms|s|m|h|d))+$|\\$\\{\\{", "examples": ["30m", "1h30m"]]

        let param: JSONValue = [
            "anyOf": [
                value,
                [
                    "type": "object",
                    "additionalProperties": false,
                    "properties": [
                        "type": ["enum": ["int", "float", "string", "bool", "list"], "description": "the parameter's type"],
                        "default": .object(["description": "the value used when -p does not give one"]),
                        "min": ["type": "number"],
                        "max": ["type": "number"],
                        "choices": ["type": "array", "minItems": 1],
                        "items": ["enum": ["int", "float", "string", "bool"], "description": "the item type of a list"],
                        "description": ["type": "string"],
                    ],
                ],
            ],
        ]

        let stepProperties: [String: JSONValue] = [
            "uses": ["enum": .array(signatures.names.map(JSONValue.string)), "description": "a built-in op (blacktail ops lists them)"],
            "with": ["type": "object", "description": "the op's arguments"],
            "run": ["type": "string", "description": "a shell command; ${{ inputs.NAME }} and ${{ outputs.NAME }} are file paths"],
            "inputs": [
                "type": "object",
                "propertyNames": ["pattern": .string(identifierPattern)],
                "additionalProperties": ["anyOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]],
            ],
            "outputs": [
                "type": "object",
                "propertyNames": ["pattern": .string(identifierPattern)],
                "additionalProperties": [
                    "anyOf": [
                        artifactTypeSchema,
                        [
                            "type": "object", "required": ["type"], "additionalProperties": false,
                            "properties": ["type": artifactTypeSchema, "path": ["type": "string"]],
                        ],
                    ],
                ],
            ],
            "needs": ["anyOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]],
            "if": ["type": ["string", "boolean"], "description": "run the step only when this is true"],
            "matrix": [
                "type": "object",
                "description": "fan the step out over the cross product of these axes",
                "properties": [
                    "include": ["type": "array", "items": ["type": "object"]],
                    "exclude": ["type": "array", "items": ["type": "object"]],
                ],
                "additionalProperties": ["anyOf": [["type": "array", "minItems": 1], expression]],
            ],
            "resources": [
                "type": "object", "additionalProperties": false,
                "properties": [
                    "cpu": ["anyOf": [["type": "number", "exclusiveMinimum": 0], expression]],
                    "memory": ["anyOf": [["type": "string", "examples": ["4GiB", "512MiB"]], ["type": "integer", "minimum": 1]]],
                    "gpu": ["anyOf": [["type": "integer", "minimum": 0], expression]],
                    "labels": ["anyOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]],
                ],
            ],
            "retry": [
                "anyOf": [
                    ["type": "integer", "minimum": 1, "maximum": 100],
                    expression,
                    [
                        "type": "object", "additionalProperties": false,
                        "properties": [
                            "attempts": ["anyOf": [["type": "integer", "minimum": 1, "maximum": 100], expression]],
                            "backoff": [
                                "type": "object", "additionalProperties": false,
                                "properties": ["initial": duration, "factor": ["anyOf": [["type": "number", "minimum": 1], expression]], "max": duration],
                            ],
                        ],
                    ],
                ],
            ],
            "timeout": duration,
            "cache": ["anyOf": [["type": "boolean"], expression]],
            "env": ["type": "object", "additionalProperties": ["type": ["string", "number", "boolean"]]],
            "description": ["type": "string"],
        ]

        let opRules: [JSONValue] = signatures.all.map { signature in
            var properties: [String: JSONValue] = [:]
            for argument in signature.arguments {
                properties[argument.name] = argumentSchema(argument, expression: expression)
            }
            let required = signature.arguments.filter { $0.presence == .required }.map { JSONValue.string($0.name) }
            var with: [String: JSONValue] = ["type": "object", "additionalProperties": false, "properties": .object(properties)]
            if !required.isEmpty { with["required"] = .array(required) }
            var then: [String: JSONValue] = ["properties": ["with": .object(with)]]
            if !required.isEmpty { then["required"] = ["with"] }
            return [
                "if": ["properties": ["uses": ["const": .string(signature.name)]], "required": ["uses"]],
                "then": .object(then),
            ]
        }

        let step: JSONValue = [
            "type": "object",
            "additionalProperties": false,
            "properties": .object(stepProperties),
            "oneOf": [["required": ["uses"]], ["required": ["run"]]],
            "allOf": .array(opRules),
        ]

        return [
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Blacktail pipeline file, version 1",
            "type": "object",
            "additionalProperties": false,
            "required": ["version", "name", "steps"],
            "properties": [
                "version": ["const": 1],
                "name": ["type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"],
                "description": ["type": "string"],
                "params": ["type": "object", "propertyNames": ["pattern": .string(identifierPattern)], "additionalProperties": ["$ref": "#/definitions/param"]],
                "schedule": [
                    "description": "cron expressions, in UTC",
                    "anyOf": [
                        ["type": "string"],
                        ["type": "array", "items": ["anyOf": [["type": "string"], ["type": "object", "required": ["cron"], "properties": ["cron": ["type": "string"]]]]]],
                    ],
                ],
                "steps": [
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": ["pattern": .string(identifierPattern)],
                    "additionalProperties": ["$ref": "#/definitions/step"],
                ],
            ],
            "definitions": ["param": param, "step": step],
        ]
    }

    private static var artifactTypeSchema: JSONValue {
        ["enum": .array(ArtifactType.allCases.map { .string($0.rawValue) })]
    }

    private static func argumentSchema(_ argument: OpSignature.Argument, expression: JSONValue) -> JSONValue {
        var schema: [String: JSONValue] = ["description": .string(argument.summary + " (\(argument.type))")]
        if case .defaultValue(let value) = argument.presence { schema["default"] = value.json }
        var accepted = typeSchema(argument.type)
        if let choices = argument.choices { accepted = ["enum": .array(choices.map(\.json))] }
        if case .object(var object) = accepted {
            if let minimum = argument.minimum, argument.type.isNumeric { object["minimum"] = .double(minimum) }
            if let maximum = argument.maximum, argument.type.isNumeric { object["maximum"] = .double(maximum) }
            accepted = .object(object)
        }
        switch argument.type {
        case .list(.artifact):
            // One expression for a fanned-out step's outputs, or a list of single outputs.
            schema["anyOf"] = [expression, ["type": "array", "items": expression]]
        case .artifact:
            schema["anyOf"] = [expression]
        default:
            schema["anyOf"] = [accepted, expression]
        }
        return .object(schema)
    }

    private static func typeSchema(_ type: ValueType) -> JSONValue {
        switch type {
        case .int: ["type": "integer"]
        case .float: ["type": "number"]
        case .string: ["type": "string"]
        case .bool: ["type": "boolean"]
        case .list(let element): ["type": "array", "items": typeSchema(element)]
        default: [:]
        }
    }
}
