/// Fitting a value to the type a parameter or argument declares, and checking its constraints.
enum Coercion {
    /// The value as the declared type (an int widens to a float, element by element in lists),
    /// or nil when it does not fit.
    static func coerce(_ value: Value, to type: ValueType) -> Value? {
        switch (type, value) {
        case (.any, _): return value
        case (.float, .int(let int)): return .float(Double(int))
        case (.list(let element), .list(let items)):
            var coerced: [Value] = []
            coerced.reserveCapacity(items.count)
            for item in items {
                guard let fitted = coerce(item, to: element) else { return nil }
                coerced.append(fitted)
            }
            return .list(coerced)
        case (let type, let value) where type == value.type: return value
        default: return nil
        }
    }

    /// Parses a command-line parameter value (`-p lr=0.01`) as the parameter's type.
    static func parse(_ text: String, as type: ValueType) -> Value? {
        switch type {
        case .string: return .string(text)
        case .int: return Int(text.trimmingSpaces).map(Value.int)
        case .float:
            guard let double = Double(text.trimmingSpaces), double.isFinite else { return nil }
            return .float(double)
        case .bool:
            switch text.trimmingSpaces.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return nil
            }
        case .list(let element):
            // `1,2,3` or `[1, 2, 3]`.
            var body = Substring(text.trimmingSpaces)
            if body.hasPrefix("["), body.hasSuffix("]") { body = body.dropFirst().dropLast() }
            if body.trimmingSpaces.isEmpty { return .list([]) }
            var items: [Value] = []
            for part in body.split(separator: ",", omittingEmptySubsequences: false) {
                let item = part.trimmingSpaces
                let parsed: Value? = switch element {
                case .any:
                    (try? ScalarTyping.value(of: YAMLScalar(item, at: .start))) ?? .string(item)
                default:
                    parse(item, as: element)
                }
                guard let parsed else { return nil }
                items.append(parsed)
            }
            return .list(items)
        case .any:
            return (try? ScalarTyping.value(of: YAMLScalar(text, at: .start))) ?? .string(text)
        default:
            return nil
        }
    }
}

enum Constraint {
    /// What is wrong with a value under bounds and choices ("is 2.0, above the maximum 1.0"), or nil.
    static func violation(of value: Value, minimum: Double?, maximum: Double?, choices: [Value]?) -> String? {
        if case .list(let items) = value {
            for item in items {
                if let problem = violation(of: item, minimum: minimum, maximum: maximum, choices: choices) {
                    return "has an item that " + problem
                }
            }
            return nil
        }
        if let number = value.number {
            if let minimum, number < minimum { return "is \(value.literal), below the minimum \(Value.float(minimum).literal)" }
            if let maximum, number > maximum { return "is \(value.literal), above the maximum \(Value.float(maximum).literal)" }
        }
        if let choices, !choices.contains(where: { ConstantFolding.equal($0, value) }) {
            return "is \(value.literal), not one of " + choices.map(\.literal).joined(separator: ", ")
        }
        return nil
    }
}
