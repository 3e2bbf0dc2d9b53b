/// An expression of the pipeline language, the part between `${{` and `}}`.
///
/// Each node keeps its offset and length in the expression's text, so errors point into the file.
public struct Expression: Hashable, Sendable, CustomStringConvertible {
    public indirect enum Kind: Hashable, Sendable {
        case literal(Value)
        case list([Expression])
        /// A context root: `params`, `steps`, `matrix`, `inputs` or `outputs`.
        case identifier(String)
        case member(Expression, String)
        case index(Expression, Expression)
        case unary(UnaryOperator, Expression)
        case binary(BinaryOperator, Expression, Expression)
        case call(String, [Expression])
    }

    public var kind: Kind
    /// Offset of the expression in its source text, in Unicode scalars.
    public var offset: Int
    /// Length of the expression in its source text, in Unicode scalars.
    public var length: Int

    public init(_ kind: Kind, offset: Int = 0, length: Int = 0) {
        self.kind = kind
        self.offset = offset
        self.length = length
    }

    /// The canonical text of the expression: parsing it gives the same tree.
    public var description: String { print(minimumPrecedence: 0) }

    /// The dotted path of a chain of member accesses from a root (`steps.train.outputs.model`).
    var path: [String]? {
        switch kind {
        case .identifier(let name): [name]
        case .member(let base, let name): base.path.map { $0 + [name] }
        default: nil
        }
    }

    private func print(minimumPrecedence: Int) -> String {
        switch kind {
        case .literal(let value):
            return value.literal
        case .list(let items):
            return "[" + items.map { $0.print(minimumPrecedence: 0) }.joined(separator: ", ") + "]"
        case .identifier(let name):
            return name
        case .member(let base, let name):
            return base.print(minimumPrecedence: Self.postfixPrecedence) + "." + name
        case .index(let base, let index):
            return base.print(minimumPrecedence: Self.postfixPrecedence) + "[" + index.print(minimumPrecedence: 0) + "]"
        case .call(let name, let arguments):
            return name + "(" + arguments.map { $0.print(minimumPrecedence: 0) }.joined(separator: ", ") + ")"
        case .unary(let op, let operand):
            let text = op.rawValue + operand.print(minimumPrecedence: Self.unaryPrecedence)
            return Self.unaryPrecedence < minimumPrecedence ? "(" + text + ")" : text
        case .binary(let op, let lhs, let rhs):
            // Binary operators are left-associative: the right operand binds one level tighter.
            let text = lhs.print(minimumPrecedence: op.precedence) + " " + op.rawValue + " "
                + rhs.print(minimumPrecedence: op.precedence + 1)
            return op.precedence < minimumPrecedence ? "(" + text + ")" : text
        }
    }

    static let unaryPrecedence = 7
    static let postfixPrecedence = 8
}

public enum UnaryOperator: String, Hashable, Sendable {
    case not = "!"
    case negate = "-"
}

public enum BinaryOperator: String, Hashable, Sendable, CaseIterable {
    case or = "||"
    case and = "&&"
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case remainder = "%"

    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .equal, .notEqual: 3
        case .less, .lessOrEqual, .greater, .greaterOrEqual: 4
        case .add, .subtract: 5
        case .multiply, .divide, .remainder: 6
        }
    }
}

/// A problem in an expression's text, with its place in that text.
public struct ExpressionError: Error, Hashable, Sendable {
    public var message: String
    public var offset: Int
    public var length: Int

    public init(_ message: String, offset: Int, length: Int = 1) {
        self.message = message
        self.offset = offset
        self.length = max(1, length)
    }
}
