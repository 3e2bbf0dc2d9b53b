/// Resolving YAML values and their `${{ }}` expressions into arguments, and fitting them to the types expected.
extension PlanBuilder {
    /// A value that must be known at plan time, fitted to `expected`.
    mutating func constant(_ node: YAMLNode, scope: ExpressionScope, expected: ValueType, what: String) -> Value? {
        var draft = NodeDraft(id: "", step: "", matrix: [], action: .shell(command: ""))
        guard let argument = resolve(node, scope: scope, expected: expected, what: what, draft: &draft) else { return nil }
        guard case .value(let value) = argument else {
            diagnostics.error("not-static", "\(what) must be known when the plan is made; it cannot depend on step outputs", at: node.range)
            return nil
        }
        return value
    }

    /// The text of a string field, with expressions interpolated.
    mutating func text(_ node: YAMLNode, scope: ExpressionScope, what: String) -> String? {
        guard let value = constant(node, scope: scope, expected: .any, what: what) else { return nil }
        if case .list = value {
            diagnostics.error("type-mismatch", "\(what) is text, not a list", at: node.range)
            return nil
        }
        return value.interpolated
    }

    /// Resolves a YAML value, with its expressions, to an argument; checks it against `expected`.
    mutating func resolve(
        _ node: YAMLNode,
        scope: ExpressionScope,
        expected: ValueType?,
        what: String,
        draft: inout NodeDraft
    ) -> PlanNode.Argument? {
        let resolved: PlanNode.Argument
        switch node {
        case .mapping:
            diagnostics.error("type-mismatch", "\(what) takes \(expected?.withArticle ?? "a value"), not a mapping", at: node.range)
            return nil
        case .sequence(let sequence):
            var values: [Value] = []
            var references: [ArtifactReference] = []
            let elementType: ValueType? = if case .list(let element)? = expected { element } else { nil }
            for item in sequence.items {
                guard let argument = resolve(item, scope: scope, expected: elementType, what: what, draft: &draft) else { return nil }
                switch argument {
                case .value(let value): values.append(value)
                case .artifact(let reference): references.append(reference)
                case .artifacts(let list): references += list
                default:
                    diagnostics.error("type-mismatch", "a list item of \(what) must be a value or an upstream output", at: item.range)
                    return nil
                }
            }
            if !values.isEmpty, !references.isEmpty {
                diagnostics.error("type-mismatch", "\(what) mixes values and artifacts in one list", at: node.range)
                return nil
            }
            resolved = references.isEmpty ? .value(.list(values)) : .artifacts(references)
        case .scalar(let scalar):
            guard let argument = resolveScalar(scalar, scope: scope, what: what, draft: &draft) else { return nil }
            resolved = argument
        }
        guard let expected else { return resolved }
        return check(resolved, against: expected, what: what, at: node.range)
    }

    mutating func resolveScalar(
        _ scalar: YAMLScalar,
        scope: ExpressionScope,
        what: String,
        draft: inout NodeDraft
    ) -> PlanNode.Argument? {
        if let reference = MarketModels.wholeReference(scalar.text) {
            return marketModel(reference, at: scalar.range, draft: &draft)
        }
        guard scalar.text.contains("${{") else {
            do {
                return .value(try ScalarTyping.value(of: scalar))
            } catch {
                diagnostics.error(error.code, error.message(for: scalar.text), at: scalar.range)
                return nil
            }
        }
        let template: Template
        do throws(ExpressionError) {
            template = try parseTemplate(scalar.text)
        } catch {
            report(error, in: scalar, base: 0)
            return nil
        }
        for error in template.errors {
            report(error, in: scalar, base: 0)
        }
        guard template.errors.isEmpty else { return nil }
        var scope = scope
        scope.allowsRuntime = true
        var analyzer = ExpressionAnalyzer(scope: scope)
        defer { absorb(analyzer, into: &draft, range: scalar.range) }
        if let (expression, offset) = template.wholeExpression {
            do throws(ExpressionError) {
                switch try analyzer.analyze(expression) {
                case .constant(let value): return .value(value)
                case .artifacts(_, let references, let isList):
                    draft.dependencies.formUnion(references.map(\.node))
                    return isList ? .artifacts(references) : .artifact(references[0])
                case .runtime(let type, let residual):
                    return .deferred(residual, type: type)
                case .path:
                    throw ExpressionError("the paths of inputs and outputs can be used only in the 'run:' command", offset: expression.offset, length: expression.length)
                }
            } catch {
                report(error, in: scalar, base: offset)
                return nil
            }
        }
        var text = ""
        for segment in template.segments {
            switch segment {
            case .text(let literal):
                text += literal
            case .invalid:
                return nil
            case .expression(let expression, let offset):
                do throws(ExpressionError) {
                    guard case .constant(let value) = try analyzer.analyze(expression) else {
                        throw ExpressionError(
                            "only values known when the plan is made can be part of a longer string; give this expression a field of its own",
                            offset: expression.offset,
                            length: expression.length
                        )
                    }
                    text += value.interpolated
                } catch {
                    report(error, in: scalar, base: offset)
                    return nil
                }
            }
        }
        return .value(.string(text))
    }

    /// Fits a resolved argument to the expected type, converting ints to floats where floats are wanted.
    mutating func check(_ argument: PlanNode.Argument, against expected: ValueType, what: String, at range: SourceRange) -> PlanNode.Argument? {
        let actual: ValueType
        switch argument {
        case .value(let value):
            if let coerced = Coercion.coerce(value, to: expected) { return .value(coerced) }
            actual = value.type
        case .artifact(let reference):
            if expected == .artifact(reference.type) || expected == .any { return argument }
            if case .list(.artifact(reference.type)) = expected { return .artifacts([reference]) }
            actual = .artifact(reference.type)
        case .artifacts(let references):
            let types = Set(references.map(\.type))
            if case .list(.artifact(let type)) = expected, types.allSatisfy({ $0 == type }) { return argument }
            if expected == .any { return argument }
            actual = types.count == 1 ? .list(.artifact(types.first!)) : .list(.any)
            if case .artifact = expected, types.count == 1 {
                diagnostics.error(
                    "type-mismatch",
                    "\(what) takes one \(expected), but this is a list of \(references.count) (the step fans out over a matrix); index it with [N] or pass it to an argument that takes a list",
                    at: range
                )
                return nil
            }
        case .deferred(_, let type):
            // Bounds and choices of a value known only at run time are checked when it is known.
            if expected.accepts(type) { return argument }
            actual = type
        case .projectFile:
            return argument
        case .pinned(_, let type, _):
            if expected == .artifact(type) || expected == .any { return argument }
            actual = .artifact(type)
        }
        diagnostics.error("type-mismatch", "\(what) takes \(expected.withArticle), but this is \(actual.withArticle)", at: range)
        return nil
    }

    /// Records what an analyzed expression used: parameters, matrix axes, and the steps and nodes
    /// it depends on (metrics read at run time make their nodes dependencies).
    mutating func absorb(_ analyzer: ExpressionAnalyzer, into draft: inout NodeDraft, range: SourceRange) {
        record(analyzer)
        guard !draft.step.isEmpty else { return }
        for step in analyzer.referencedSteps {
            addDependency(of: draft.step, on: step, at: range)
        }
        draft.dependencies.formUnion(analyzer.runtimeReferences.map(\.node))
    }

    mutating func record(_ analyzer: ExpressionAnalyzer) {
        usedParams.formUnion(analyzer.usedParams)
        usedMatrixAxes.formUnion(analyzer.usedMatrixAxes)
    }

    mutating func parseTemplate(_ text: String) throws(ExpressionError) -> Template {
        if let cached = templates[text] { return try cached.get() }
        let result = Result { () throws(ExpressionError) in try Template.parse(text) }
        templates[text] = result
        return try result.get()
    }

    mutating func report(_ error: ExpressionError, in scalar: YAMLScalar, base: Int) {
        let location = scalar.location(atOffset: base + error.offset, in: source)
        diagnostics.error("expression", error.message, at: SourceRange(location, length: error.length))
    }
}
