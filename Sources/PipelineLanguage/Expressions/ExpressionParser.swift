/// Parses expression text (`params.lr * 2 > 0.1 && matrix.depth != 3`) into an ``Expression``.
///
/// A hand-written recursive-descent parser over a small lexer, with a bound on nesting so that no
/// input can exhaust the stack.
public struct ExpressionParser {
    private var tokens: [Token] = []
    private var position = 0
    private var depth = 0
    private let endOffset: Int
    static let maximumDepth = 64

    /// Parses one whole expression.
    /// - Throws: ``ExpressionError`` naming what is wrong and where.
    public static func parse(_ text: String) throws(ExpressionError) -> Expression {
        try parse(Array(text.unicodeScalars)[...])
    }

    /// Parses the expression in a slice of scalars; offsets count from the slice's start.
    static func parse(_ scalars: ArraySlice<Unicode.Scalar>) throws(ExpressionError) -> Expression {
        var parser = try ExpressionParser(scalars: scalars)
        guard !parser.tokens.isEmpty else {
            throw ExpressionError("the expression is empty", offset: 0, length: max(1, scalars.count))
        }
        let expression = try parser.parseExpression()
        if let extra = parser.current {
            throw ExpressionError("unexpected '\(extra.text)' after the end of the expression", offset: extra.offset, length: extra.length)
        }
        return expression
    }

    private init(scalars: ArraySlice<Unicode.Scalar>) throws(ExpressionError) {
        tokens = try Lexer.tokens(of: scalars)
        endOffset = scalars.count
    }

    private var current: Token? { position < tokens.count ? tokens[position] : nil }

    private mutating func take(_ punctuation: String) -> Token? {
        guard let token = current, token.kind == .punctuation, token.text == punctuation else { return nil }
        position += 1
        return token
    }

    private mutating func expect(_ punctuation: String, context: String) throws(ExpressionError) -> Token {
        if let token = take(punctuation) { return token }
        if let token = current {
            throw ExpressionError("expected '\(punctuation)' \(context), found '\(token.text)'", offset: token.offset, length: token.length)
        }
        throw ExpressionError("expected '\(punctuation)' \(context), but the expression ends", offset: endOffset)
    }

    private mutating func parseExpression() throws(ExpressionError) -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw ExpressionError("the expression is nested too deeply", offset: current?.offset ?? endOffset)
        }
        return try parseBinary(precedence: 1)
    }

    private mutating func parseBinary(precedence: Int) throws(ExpressionError) -> Expression {
        guard precedence <= 6 else { return try parseUnary() }
        var lhs = try parseBinary(precedence: precedence + 1)
        while let token = current, token.kind == .punctuation,
            let op = BinaryOperator(rawValue: token.text), op.precedence == precedence
        {
            position += 1
            let rhs = try parseBinary(precedence: precedence + 1)
            lhs = Expression(.binary(op, lhs, rhs), offset: lhs.offset, length: rhs.offset + rhs.length - lhs.offset)
        }
        return lhs
    }

    private mutating func parseUnary() throws(ExpressionError) -> Expression {
        for op in [UnaryOperator.not, .negate] {
            if let token = take(op.rawValue) {
                depth += 1
                defer { depth -= 1 }
                guard depth <= Self.maximumDepth else {
                    throw ExpressionError("the expression is nested too deeply", offset: token.offset)
                }
                let operand = try parseUnary()
                // A negative number is a literal, so `-1` prints and parses back as itself.
                if op == .negate, case .literal(let value) = operand.kind {
                    switch value {
                    case .int(let int) where int != Int.min:
                        return Expression(.literal(.int(-int)), offset: token.offset, length: operand.offset + operand.length - token.offset)
                    case .float(let float):
                        return Expression(.literal(.float(-float)), offset: token.offset, length: operand.offset + operand.length - token.offset)
                    default: break
                    }
                }
                return Expression(.unary(op, operand), offset: token.offset, length: operand.offset + operand.length - token.offset)
            }
        }
        return try parsePostfix()
    }

    private mutating func parsePostfix() throws(ExpressionError) -> Expression {
        var expression = try parsePrimary()
        while true {
            if take(".") != nil {
                guard let name = current, name.kind == .identifier else {
                    throw ExpressionError(
                        "expected a name after '.'",
                        offset: current?.offset ?? endOffset,
                        length: current?.length ?? 1
                    )
                }
                position += 1
                expression = Expression(
                    .member(expression, name.text),
                    offset: expression.offset,
                    length: name.offset + name.length - expression.offset
                )
            } else if take("[") != nil {
                let index = try parseExpression()
                let close = try expect("]", context: "to close the index")
                expression = Expression(
                    .index(expression, index),
                    offset: expression.offset,
                    length: close.offset + 1 - expression.offset
                )
            } else {
                return expression
            }
        }
    }

    private mutating func parsePrimary() throws(ExpressionError) -> Expression {
        guard let token = current else {
            throw ExpressionError("the expression ends where a value was expected", offset: endOffset)
        }
        position += 1
        switch token.kind {
        case .integer:
            guard let value = Int(token.text) else {
                throw ExpressionError("the number \(token.text) is too large", offset: token.offset, length: token.length)
            }
            return Expression(.literal(.int(value)), offset: token.offset, length: token.length)
        case .float:
            guard let value = Double(token.text), value.isFinite else {
                throw ExpressionError("the number \(token.text) is out of range", offset: token.offset, length: token.length)
            }
            return Expression(.literal(.float(value)), offset: token.offset, length: token.length)
        case .string:
            return Expression(.literal(.string(token.text)), offset: token.offset, length: token.length)
        case .identifier:
            switch token.text {
            case "true": return Expression(.literal(.bool(true)), offset: token.offset, length: token.length)
            case "false": return Expression(.literal(.bool(false)), offset: token.offset, length: token.length)
            case "null": return Expression(.literal(.null), offset: token.offset, length: token.length)
            default: break
            }
            if take("(") != nil {
                var arguments: [Expression] = []
                if take(")") == nil {
                    repeat {
                        arguments.append(try parseExpression())
                    } while take(",") != nil
                    _ = try expect(")", context: "to close the call of \(token.text)()")
                }
                let end = tokens[position - 1]
                return Expression(.call(token.text, arguments), offset: token.offset, length: end.offset + end.length - token.offset)
            }
            return Expression(.identifier(token.text), offset: token.offset, length: token.length)
        case .punctuation:
            if token.text == "(" {
                let inner = try parseExpression()
                _ = try expect(")", context: "to close '('")
                return inner
            }
            if token.text == "[" {
                var items: [Expression] = []
                if take("]") == nil {
                    repeat {
                        items.append(try parseExpression())
                    } while take(",") != nil
                    _ = try expect("]", context: "to close the list")
                }
                let end = tokens[position - 1]
                return Expression(.list(items), offset: token.offset, length: end.offset + 1 - token.offset)
            }
            throw ExpressionError("unexpected '\(token.text)' where a value was expected", offset: token.offset, length: token.length)
        }
    }
}

struct Token: Hashable {
    enum Kind: Hashable {
        case integer
        case float
        case string
        case identifier
        case punctuation
    }

    var kind: Kind
    /// The token's text; for a string literal, its value without quotes or escapes.
    var text: String
    var offset: Int
    var length: Int
}

enum Lexer {
    private static let punctuation: [String] = [
        "||", "&&", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".",
    ]

    static func tokens(of slice: ArraySlice<Unicode.Scalar>) throws(ExpressionError) -> [Token] {
        // Offsets are counted from the slice's start.
        try tokens(in: Array(slice))
    }

    private static func tokens(in scalars: [Unicode.Scalar]) throws(ExpressionError) -> [Token] {
        var tokens: [Token] = []
        var index = 0
        func isDigit(_ i: Int) -> Bool { i < scalars.count && ("0"..."9").contains(scalars[i]) }
        func isIdentifierStart(_ s: Unicode.Scalar) -> Bool { s == "_" || ("a"..."z").contains(s) || ("A"..."Z").contains(s) }
        while index < scalars.count {
            let scalar = scalars[index]
            let start = index
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
                index += 1
            } else if isDigit(index) {
                while isDigit(index) { index += 1 }
                var isFloat = false
                if index < scalars.count, scalars[index] == ".", isDigit(index + 1) {
                    isFloat = true
                    index += 1
                    while isDigit(index) { index += 1 }
                }
                if index < scalars.count, scalars[index] == "e" || scalars[index] == "E" {
                    var next = index + 1
                    if next < scalars.count, scalars[next] == "+" || scalars[next] == "-" { next += 1 }
                    if isDigit(next) {
                        isFloat = true
                        index = next
                        while isDigit(index) { index += 1 }
                    }
                }
                if index < scalars.count, isIdentifierStart(scalars[index]) {
                    throw ExpressionError("'\(String(String.UnicodeScalarView(scalars[start...index])))' is not a number", offset: start, length: index + 1 - start)
                }
                let text = String(String.UnicodeScalarView(scalars[start..<index]))
                tokens.append(Token(kind: isFloat ? .float : .integer, text: text, offset: start, length: index - start))
            } else if isIdentifierStart(scalar) {
                while index < scalars.count, isIdentifierStart(scalars[index]) || isDigit(index) { index += 1 }
                let text = String(String.UnicodeScalarView(scalars[start..<index]))
                tokens.append(Token(kind: .identifier, text: text, offset: start, length: index - start))
            } else if scalar == "'" || scalar == "\"" {
                let (value, end) = try stringLiteral(in: scalars, from: start)
                tokens.append(Token(kind: .string, text: value, offset: start, length: end - start))
                index = end
            } else if let match = punctuation.first(where: { matches($0, scalars, at: index) }) {
                index += match.unicodeScalars.count
                tokens.append(Token(kind: .punctuation, text: match, offset: start, length: index - start))
            } else {
                let hint = scalar == "=" ? "; use '==' to compare" : (scalar == "&" || scalar == "|") ? "; use '&&' or '||'" : ""
                throw ExpressionError("unexpected character '\(scalar)' in the expression\(hint)", offset: start)
            }
        }
        return tokens
    }

    private static func matches(_ text: String, _ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        var i = index
        for scalar in text.unicodeScalars {
            guard i < scalars.count, scalars[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    /// Reads a string literal: `'single'` with `''` for a quote, or `"double"` with backslash escapes.
    private static func stringLiteral(in scalars: [Unicode.Scalar], from start: Int) throws(ExpressionError) -> (String, Int) {
        let quote = scalars[start]
        var value = String.UnicodeScalarView()
        var index = start + 1
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == quote {
                if quote == "'", index + 1 < scalars.count, scalars[index + 1] == "'" {
                    value.append("'")
                    index += 2
                    continue
                }
                return (String(value), index + 1)
            }
            if quote == "\"", scalar == "\\", index + 1 < scalars.count {
                let escaped = scalars[index + 1]
                switch escaped {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "\\", "\"", "'": value.append(escaped)
                default:
                    throw ExpressionError("unknown escape '\\\(escaped)' in a string", offset: index, length: 2)
                }
                index += 2
                continue
            }
            value.append(scalar)
            index += 1
        }
        throw ExpressionError("the string is not closed; add a closing \(quote)", offset: start, length: scalars.count - start)
    }
}
