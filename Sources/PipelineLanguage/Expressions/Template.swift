/// A YAML string value with `${{ expression }}` parts in it.
public struct Template: Hashable, Sendable {
    public enum Segment: Hashable, Sendable {
        case text(String)
        /// An expression and the offset of its text within the whole string.
        case expression(Expression, offset: Int)
        /// An expression that does not parse, with offsets into the whole string; the rest of the
        /// string is still read, so that every mistake in it is reported.
        case invalid(ExpressionError)
    }

    /// The parse errors of the string's expressions.
    public var errors: [ExpressionError] {
        segments.compactMap { if case .invalid(let error) = $0 { error } else { nil } }
    }

    public var segments: [Segment]

    /// The single expression, when the string is exactly one `${{ ... }}` (blanks around it allowed):
    /// its value keeps its type (a list stays a list) instead of becoming text.
    public var wholeExpression: (Expression, offset: Int)? {
        var found: (Expression, Int)?
        for segment in segments {
            switch segment {
            case .text(let text) where text.allSatisfy(\.isWhitespace):
                continue
            case .expression(let expression, let offset) where found == nil:
                found = (expression, offset)
            case .invalid:
                return nil
            default:
                return nil
            }
        }
        return found
    }

    /// Splits a string into text and `${{ }}` expressions.
    /// - Throws: ``ExpressionError`` for an unclosed `${{`, with offsets into `text`. An expression
    ///   that does not parse becomes an ``Segment/invalid(_:)`` segment.
    public static func parse(_ text: String) throws(ExpressionError) -> Template {
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var literal = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "$", index + 2 < scalars.count, scalars[index + 1] == "{", scalars[index + 2] == "{" {
                let open = index
                let bodyStart = index + 3
                guard let close = closingBraces(in: scalars, from: bodyStart) else {
                    throw ExpressionError("'${{' is not closed; add '}}'", offset: open, length: 3)
                }
                if !literal.isEmpty {
                    segments.append(.text(String(literal)))
                    literal = String.UnicodeScalarView()
                }
                let body = scalars[bodyStart..<close]
                do {
                    let expression = try ExpressionParser.parse(body)
                    segments.append(.expression(expression, offset: bodyStart))
                } catch {
                    let invalid = body.allSatisfy(\.properties.isWhitespace)
                        ? ExpressionError("'${{ }}' holds no expression", offset: open, length: close + 2 - open)
                        : ExpressionError(error.message, offset: bodyStart + error.offset, length: error.length)
                    segments.append(.invalid(invalid))
                }
                index = close + 2
            } else {
                literal.append(scalars[index])
                index += 1
            }
        }
        if !literal.isEmpty { segments.append(.text(String(literal))) }
        return Template(segments: segments)
    }

    /// The index of the `}}` that ends an expression, skipping quoted strings inside it.
    private static func closingBraces(in scalars: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start
        var quote: Unicode.Scalar?
        while index < scalars.count {
            let scalar = scalars[index]
            if let open = quote {
                if scalar == "\\", open == "\"" {
                    index += 2
                    continue
                }
                if scalar == open { quote = nil }
            } else if scalar == "'" || scalar == "\"" {
                quote = scalar
            } else if scalar == "}", index + 1 < scalars.count, scalars[index + 1] == "}" {
                return index
            }
            index += 1
        }
        return nil
    }
}
