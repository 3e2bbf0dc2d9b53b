/// Evaluation of operators and functions over values known at plan time.
enum ConstantFolding {
    static func apply(_ op: BinaryOperator, _ a: Value, _ b: Value, error: (String) -> ExpressionError) throws(ExpressionError) -> Value {
        switch op {
        case .and, .or:
            guard case .bool(let x) = a, case .bool(let y) = b else { throw error("'\(op.rawValue)' needs two bools") }
            return .bool(op == .and ? x && y : x || y)
        case .equal: return .bool(equal(a, b))
        case .notEqual: return .bool(!equal(a, b))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: Int
            if let x = a.number, let y = b.number {
                order = x < y ? -1 : (x > y ? 1 : 0)
            } else if case .string(let x) = a, case .string(let y) = b {
                order = x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) ? -1 : (x == y ? 0 : 1)
            } else {
                throw error("'\(op.rawValue)' compares two numbers or two strings")
            }
            switch op {
            case .less: return .bool(order < 0)
            case .lessOrEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case .add, .subtract, .multiply, .divide, .remainder:
            return try arithmetic(op, a, b, error: error)
        }
    }

    private static func arithmetic(_ op: BinaryOperator, _ a: Value, _ b: Value, error: (String) -> ExpressionError) throws(ExpressionError) -> Value {
        switch (op, a, b) {
        case (.add, .string(let x), .string(let y)):
            return .string(x + y)
        case (.add, .list(let x), .list(let y)):
            return .list(x + y)
        case (_, .int(let x), .int(let y)) where op != .divide:
            let result: (partialValue: Int, overflow: Bool)
            switch op {
            case .add: result = x.addingReportingOverflow(y)
            case .subtract: result = x.subtractingReportingOverflow(y)
            case .multiply: result = x.multipliedReportingOverflow(by: y)
            default:
                guard y != 0 else { throw error("division by zero") }
                result = x.remainderReportingOverflow(dividingBy: y)
            }
            guard !result.overflow else { throw error("integer overflow") }
            return .int(result.partialValue)
        default:
            guard let x = a.number, let y = b.number else { throw error("'\(op.rawValue)' needs two numbers") }
            let result: Double
            switch op {
            case .add: result = x + y
            case .subtract: result = x - y
            case .multiply: result = x * y
            case .divide:
                guard y != 0 else { throw error("division by zero") }
                result = x / y
            default: throw error("'%' needs two ints")
            }
            guard result.isFinite else { throw error("the result is not a finite number") }
            return .float(result)
        }
    }

    /// Equality where an int and a float of the same number are equal.
    static func equal(_ a: Value, _ b: Value) -> Bool {
        if let x = a.number, let y = b.number { return x == y }
        if case .list(let x) = a, case .list(let y) = b {
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        }
        return a == b
    }

    static func call(_ name: String, _ arguments: [Value], error: (String) -> ExpressionError) throws(ExpressionError) -> Value {
        func arity(_ count: Int) throws(ExpressionError) {
            guard arguments.count == count else {
                throw error("\(name)() takes \(count) argument\(count == 1 ? "" : "s"), not \(arguments.count)")
            }
        }
        func string(_ value: Value) throws(ExpressionError) -> String {
            guard case .string(let text) = value else { throw error("\(name)() needs strings, not \(value.type.withArticle)") }
            return text
        }
        switch name {
        case "contains":
            try arity(2)
            switch arguments[0] {
            case .list(let items): return .bool(items.contains { equal($0, arguments[1]) })
            case .string(let text): return .bool(text.contains(try string(arguments[1])))
            default: throw error("contains() looks in a list or a string, not \(arguments[0].type.withArticle)")
            }
        case "startsWith":
            try arity(2)
            return .bool(try string(arguments[0]).hasPrefix(try string(arguments[1])))
        case "endsWith":
            try arity(2)
            return .bool(try string(arguments[0]).hasSuffix(try string(arguments[1])))
        case "min", "max":
            let items: [Value] = if arguments.count == 1, case .list(let list) = arguments[0] { list } else { arguments }
            guard !items.isEmpty else { throw error("\(name)() needs at least one number") }
            var best = items[0]
            for item in items {
                guard let x = item.number, let y = best.number else {
                    throw error("\(name)() needs numbers, not \(item.type.withArticle)")
                }
                if name == "min" ? x < y : x > y { best = item }
            }
            return best
        case "abs":
            try arity(1)
            switch arguments[0] {
            case .int(let x):
                guard x != .min else { throw error("integer overflow") }
                return .int(Swift.abs(x))
            case .float(let x): return .float(Swift.abs(x))
            default: throw error("abs() needs a number, not \(arguments[0].type.withArticle)")
            }
        case "round":
            try arity(1)
            guard let x = arguments[0].number else { throw error("round() needs a number, not \(arguments[0].type.withArticle)") }
            let rounded = x.rounded(.toNearestOrAwayFromZero)
            guard let int = Int(exactly: rounded) else { throw error("round() of \(x) does not fit in an int") }
            return .int(int)
        case "length":
            try arity(1)
            switch arguments[0] {
            case .list(let items): return .int(items.count)
            case .string(let text): return .int(text.count)
            default: throw error("length() needs a list or a string, not \(arguments[0].type.withArticle)")
            }
        case "join":
            try arity(2)
            guard case .list(let items) = arguments[0] else { throw error("join() needs a list first, not \(arguments[0].type.withArticle)") }
            return .string(items.map(\.interpolated).joined(separator: try string(arguments[1])))
        default:
            throw error("unknown function '\(name)'")
        }
    }
}
