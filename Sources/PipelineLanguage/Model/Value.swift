import Foundation

/// A value known when the plan is made: a literal, a parameter, a matrix value, or a result of
/// evaluating an expression over them.
public indirect enum Value: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([Value])

    /// The value as JSON, the form it takes in plan files.
    public var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .int(let value): .int(value)
        case .float(let value): .double(value)
        case .string(let value): .string(value)
        case .list(let items): .array(items.map(\.json))
        }
    }

    /// The value's type; an empty or mixed list is a list of `any`.
    public var type: ValueType {
        switch self {
        case .null: .null
        case .bool: .bool
        case .int: .int
        case .float: .float
        case .string: .string
        case .list(let items):
            .list(items.reduce(nil as ValueType?) { common, item in
                guard let common else { return item.type }
                return common.join(item.type) ?? .any
            } ?? .any)
        }
    }

    /// The number as a double, for ints and floats.
    public var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .float(let value): value
        default: nil
        }
    }

    /// The text a value takes when it is interpolated into a string: strings bare, lists as JSON.
    public var interpolated: String {
        switch self {
        case .string(let value): value
        case .null: ""
        default: json.canonicalText
        }
    }

    /// The value written in expression syntax, so that printing and parsing round-trip.
    public var literal: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .float(let value): JSONValue.format(value)
        case .string(let value): "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
        case .list(let items): "[" + items.map(\.literal).joined(separator: ", ") + "]"
        }
    }
}

/// The type of a value or of an artifact reference, as the compiler checks it.
public indirect enum ValueType: Hashable, Sendable, CustomStringConvertible {
    case any
    case null
    case bool
    case int
    case float
    case string
    case list(ValueType)
    case artifact(ArtifactType)

    public var description: String {
        switch self {
        case .any: "any"
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "string"
        case .list(let element): "list<\(element)>"
        case .artifact(let type): type.rawValue
        }
    }

    /// The description with an article, for messages: "an int", "a list<model>".
    public var withArticle: String {
        let text = description
        return (text.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + text
    }

    var isNumeric: Bool { self == .int || self == .float }

    var isArtifact: Bool {
        switch self {
        case .artifact: true
        case .list(let element): element.isArtifact
        default: false
        }
    }

    /// The type both can be seen as (int and float meet at float), or nil when they do not mix.
    func join(_ other: ValueType) -> ValueType? {
        if self == other { return self }
        switch (self, other) {
        case (.any, _), (_, .any): return .any
        case (.int, .float), (.float, .int): return .float
        case (.list(let a), .list(let b)): return a.join(b).map(ValueType.list) ?? .list(.any)
        default: return nil
        }
    }

    /// Whether a value of type `source` may be given where this type is expected.
    /// An int widens to a float; `any` accepts and is accepted by everything but artifacts.
    func accepts(_ source: ValueType) -> Bool {
        switch (self, source) {
        case _ where self == source: return true
        case (.any, let other): return !other.isArtifact
        case (let other, .any): return !other.isArtifact
        case (.float, .int): return true
        case (.list(let a), .list(let b)): return a.accepts(b)
        default: return false
        }
    }

    /// Parses a type name as written in pipeline files and signatures: `int`, `list<float>`, `model`.
    public init?(name: String) {
        let name = name.trimmingCharacters(in: .whitespaces)
        switch name {
        case "any": self = .any
        case "bool": self = .bool
        case "int": self = .int
        case "float": self = .float
        case "string": self = .string
        case "list": self = .list(.any)
        default:
            if let artifact = ArtifactType(rawValue: name) {
                self = .artifact(artifact)
            } else if name.hasPrefix("list<"), name.hasSuffix(">"),
                let element = ValueType(name: String(name.dropFirst(5).dropLast()))
            {
                self = .list(element)
            } else {
                return nil
            }
        }
    }
}

/// What a step reads and writes, by kind; the compiler checks that each reference carries the type
/// its consumer expects.
public enum ArtifactType: String, Hashable, Sendable, CaseIterable {
    /// An HDF5 file in the Blacktail dataset layout.
    case dataset
    /// An HDF5 checkpoint of a trained model.
    case model
    /// A JSON object whose values are numbers.
    case metrics
    /// Any single file.
    case file
    /// A folder of files.
    case directory
}

/// Values are stored as one-key objects (`{"int": 3}`, `{"float": 3.0}`) so that an int and a float
/// of the same number stay apart through a round trip.
extension Value: Codable {
    private enum Key: String, CodingKey {
        case null, bool, int, float, string, list
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a value is an object with exactly one of null, bool, int, float, string, list"))
        }
        switch key {
        case .null: self = .null
        case .bool: self = .bool(try container.decode(Bool.self, forKey: key))
        case .int: self = .int(try container.decode(Int.self, forKey: key))
        case .float: self = .float(try container.decode(Double.self, forKey: key))
        case .string: self = .string(try container.decode(String.self, forKey: key))
        case .list: self = .list(try container.decode([Value].self, forKey: key))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .null: try container.encode(true, forKey: .null)
        case .bool(let value): try container.encode(value, forKey: .bool)
        case .int(let value): try container.encode(value, forKey: .int)
        case .float(let value): try container.encode(value, forKey: .float)
        case .string(let value): try container.encode(value, forKey: .string)
        case .list(let items): try container.encode(items, forKey: .list)
        }
    }
}
