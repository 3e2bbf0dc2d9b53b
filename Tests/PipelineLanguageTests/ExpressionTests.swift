import Testing
@testable import PipelineLanguage

@Suite struct ExpressionParserTests {
    @Test(arguments: [
        ("1 + 2 * 3", "1 + 2 * 3"),
        ("(1 + 2) * 3", "(1 + 2) * 3"),
        ("a.b.c", "a.b.c"),
        ("!x && y || z", "!x && y || z"),
        ("!(x && y)", "!(x && y)"),
        ("1 - (2 - 3)", "1 - (2 - 3)"),
        ("1 - 2 - 3", "1 - 2 - 3"),
        ("-1", "-1"),
        ("- 2.5", "-2.5"),
        ("'it''s'", "'it''s'"),
        ("\"a\\\"b\"", "'a\"b'"),
        ("[1, 'x', true, null]", "[1, 'x', true, null]"),
        ("steps.train.outputs.model[2]", "steps.train.outputs.model[2]"),
        ("contains(params.tags, 'x')", "contains(params.tags, 'x')"),
        ("1e-3 < 0.5", "0.001 < 0.5"),
        ("a == b != c", "a == b != c"),
        ("x >= 1 && y <= 2", "x >= 1 && y <= 2"),
    ])
    func printsCanonicalText(input: String, expected: String) throws {
        let expression = try ExpressionParser.parse(input)
        #expect(expression.description == expected)
        // The canonical text parses back to the same text.
        #expect(try ExpressionParser.parse(expression.description).description == expected)
    }

    @Test func precedenceShapesTheTree() throws {
        let expression = try ExpressionParser.parse("a || b && c == d < e + f * g")
        guard case .binary(.or, _, let rhs) = expression.kind, case .binary(.and, _, let and) = rhs.kind,
            case .binary(.equal, _, let equal) = and.kind, case .binary(.less, _, let less) = equal.kind,
            case .binary(.add, _, let add) = less.kind, case .binary(.multiply, _, _) = add.kind
        else {
            Issue.record("unexpected tree: \(expression)")
            return
        }
    }

    @Test(arguments: [
        ("", "the expression is empty", 0),
        ("1 +", "the expression ends where a value was expected", 3),
        ("a = b", "unexpected character '=' in the expression; use '==' to compare", 2),
        ("a & b", "unexpected character '&' in the expression; use '&&' or '||'", 2),
        ("'open", "the string is not closed; add a closing '", 0),
        ("f(1, 2", "expected ')' to close the call of f(), but the expression ends", 6),
        ("[1, 2", "expected ']' to close the list, but the expression ends", 5),
        ("a.", "expected a name after '.'", 2),
        ("1 2", "unexpected '2' after the end of the expression", 2),
        ("12abc", "'12a' is not a number", 0),
        ("99999999999999999999", "the number 99999999999999999999 is too large", 0),
        ("\"\\q\"", "unknown escape '\\q' in a string", 1),
    ])
    func reportsErrorsWithOffsets(input: String, message: String, offset: Int) {
        let error = thrownError(ExpressionError.self) { _ = try ExpressionParser.parse(input) }
        #expect(error?.message == message)
        #expect(error?.offset == offset)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)
        #expect(throws: ExpressionError.self) { try ExpressionParser.parse(deep) }
        let negations = String(repeating: "!", count: 10_000) + "true"
        #expect(throws: ExpressionError.self) { try ExpressionParser.parse(negations) }
    }
}

@Suite struct TemplateTests {
    @Test func splitsTextAndExpressions() throws {
        let template = try Template.parse("python x.py --lr ${{ params.lr }} --out ${{outputs.model}}")
        #expect(template.segments.count == 4)
        #expect(template.wholeExpression == nil)
        guard case .expression(let expression, let offset) = template.segments[1] else {
            Issue.record("expected an expression")
            return
        }
        #expect(expression.description == "params.lr")
        #expect(offset == 20)
    }

    @Test func aLoneExpressionKeepsItsType() throws {
        let template = try Template.parse("  ${{ [1, 2] }} ")
        #expect(template.wholeExpression?.0.description == "[1, 2]")
    }

    @Test func closingBracesInsideStringsDoNotEndTheExpression() throws {
        let template = try Template.parse("${{ 'a}}b' }}")
        #expect(template.wholeExpression?.0.description == "'a}}b'")
    }

    @Test func unclosedExpressionIsAnError() {
        #expect(throws: ExpressionError("'${{' is not closed; add '}}'", offset: 4, length: 3)) {
            try Template.parse("abc ${{ params.x")
        }
    }

    @Test func everyBadExpressionIsKeptWithOffsetsIntoTheWholeString() throws {
        let template = try Template.parse("run ${{ a = b }} ${{ ok }} ${{ }}")
        #expect(template.errors == [
            ExpressionError("unexpected character '=' in the expression; use '==' to compare", offset: 10, length: 1),
            ExpressionError("'${{ }}' holds no expression", offset: 27, length: 6),
        ])
        #expect(template.segments.filter { if case .expression = $0 { true } else { false } }.count == 1)
    }
}

@Suite struct ConstantFoldingTests {
    private func evaluate(_ text: String, params: [String: Value] = [:]) throws -> Value? {
        var analyzer = ExpressionAnalyzer(scope: ExpressionScope(params: params, steps: [:], stepOrder: []))
        if case .constant(let value) = try analyzer.analyze(try ExpressionParser.parse(text)) { return value }
        return nil
    }

    @Test(arguments: [
        ("1 + 2 * 3", Value.int(7)),
        ("7 / 2", .float(3.5)),
        ("7 % 3", .int(1)),
        ("1 + 0.5", .float(1.5)),
        ("'a' + 'b'", .string("ab")),
        ("[1] + [2]", .list([.int(1), .int(2)])),
        ("1 == 1.0", .bool(true)),
        ("'abc' < 'abd'", .bool(true)),
        ("!(1 > 2) && true", .bool(true)),
        ("params.lr * 10", .float(1.0)),
        ("params.layers[1]", .int(32)),
        ("length(params.layers)", .int(2)),
        ("max(params.layers)", .int(64)),
        ("min(3, 1.5)", .float(1.5)),
        ("abs(-4)", .int(4)),
        ("round(2.5)", .int(3)),
        ("contains(params.layers, 32)", .bool(true)),
        ("startsWith('resnet50', 'res')", .bool(true)),
        ("join(params.layers, 'x')", .string("64x32")),
    ])
    func folds(text: String, expected: Value) throws {
        let params: [String: Value] = ["lr": .float(0.1), "layers": .list([.int(64), .int(32)])]
        #expect(try evaluate(text, params: params) == expected)
    }

    @Test(arguments: [
        ("9223372036854775807 + 1", "integer overflow"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("1 + 'a'", "'+' needs two numbers, not an int and a string"),
        ("1 && true", "'&&' needs two bools, not an int and a bool"),
        ("'a' < 1", "'<' compares two numbers or two strings, not a string and an int"),
        ("[1][3]", "index 3 is out of range: the list has 1 item"),
        ("params.nope", "unknown parameter 'nope'"),
        ("param.x", "unknown name 'param'; did you mean 'params'?; expressions start from params, steps, matrix, inputs or outputs"),
        ("matrix.x", "'matrix' is available only in a step that has a 'matrix:'"),
        ("lenght([1])", "unknown function 'lenght'; did you mean 'length'?; the functions are always, success, failure, contains, startsWith, endsWith, min, max, abs, round, length, join"),
        ("always()", "always() tells the status of upstream steps and can be used only in 'if:'"),
        ("1.5 % 2", "'%' needs two ints, not a float and an int"),
    ])
    func rejects(text: String, message: String) {
        let error = thrownError(ExpressionError.self) { _ = try evaluate(text) }
        #expect(error?.message == message)
    }
}
