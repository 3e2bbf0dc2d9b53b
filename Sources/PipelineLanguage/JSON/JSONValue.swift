/// A JSON value with a canonical serialisation.
///
/// Object keys are written in sorted order and numbers in their shortest round-trip form, so the
/// same value always gives the same bytes on every machine. Plans, diagnostics, signatures and the
/// pipeline schema are all written through this type.
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The value written without insignificant whitespace: the bytes that content keys hash.
    public var canonicalText: String {
        var output = ""
        write(to: &output, indent: nil, depth: 0)
        return output
    }

    /// The value written with two-space indentation and a trailing newline, for people.
    public var prettyText: String {
        var output = ""
        write(to: &output, indent: "  ", depth: 0)
        output.append("\n")
        return output
    }

    private func write(to output: inout String, indent: String?, depth: Int) {
        switch self {
        case .null:
            output.append("null")
        case .bool(let value):
            output.append(value ? "true" : "false")
        case .int(let value):
            output.append(String(value))
        case .double(let value):
            output.append(Self.format(value))
        case .string(let value):
            Self.writeString(value, to: &output)
        case .array(let items):
            if items.isEmpty {
                output.append("[]")
                return
            }
            output.append("[")
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(",") }
                Self.newline(&output, indent: indent, depth: depth + 1)
                item.write(to: &output, indent: indent, depth: depth + 1)
            }
            Self.newline(&output, indent: indent, depth: depth)
            output.append("]")
        case .object(let members):
            if members.isEmpty {
                output.append("{}")
                return
            }
            output.append("{")
            for (index, key) in members.keys.sorted(by: Self.keyOrder).enumerated() {
                if index > 0 { output.append(",") }
                Self.newline(&output, indent: indent, depth: depth + 1)
                Self.writeString(key, to: &output)
                output.append(indent == nil ? ":" : ": ")
                members[key]!.write(to: &output, indent: indent, depth: depth + 1)
            }
            Self.newline(&output, indent: indent, depth: depth)
            output.append("}")
        }
    }

    /// Keys compare by their Unicode scalars, never by locale, so the order is the same everywhere.
    private static func keyOrder(_ lhs: String, _ rhs: String) -> Bool {
        lhs.unicodeScalars.lexicographicallyPrecedes(rhs.unicodeScalars)
    }

    private static func newline(_ output: inout String, indent: String?, depth: Int) {
        guard let indent else { return }
        output.append("\n")
        for _ in 0..<depth { output.append(indent) }
    }

    /// Formats a double in Swift's shortest round-trip form (`0.1`, `2.0`, `1e-07`), the same on
    /// every platform. Non-finite values never reach a plan: the language rejects them.
    static func format(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }

    private static func writeString(_ value: String, to output: inout String) {
        output.append("\"")
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue {
    /// `nil` becomes `null`; anything else is wrapped.
    public init(_ value: String?) { self = value.map(JSONValue.string) ?? .null }
}
