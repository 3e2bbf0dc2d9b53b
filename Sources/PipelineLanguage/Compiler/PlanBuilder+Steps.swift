/// Compiling one step instance into a node: its op arguments or command, inputs, condition, resources, retry, timeout, cache and environment.
extension PlanBuilder {
    func outputs(of step: StepDefinition) -> [(name: String, type: ArtifactType)] {
        switch step.action {
        case .op(let name, _, _, _):
            return signatures[name]?.outputs.map { ($0.name, $0.type) } ?? []
        case .shell(_, _, let outputs):
            return outputs.map { ($0.name, $0.type) }
        }
    }

    mutating func checkNeeds(_ step: StepDefinition) {
        for (id, range) in step.needs {
            if id == step.id {
                diagnostics.error("cycle", "step '\(id)' cannot need itself", at: range)
            } else if summaries[id] == nil {
                diagnostics.error("unknown-step", "unknown step '\(id)' in 'needs'\(Suggestion.didYouMean(id, in: stepOrder))", at: range)
            } else {
                addDependency(of: step.id, on: id, at: range)
            }
        }
    }

    mutating func addDependency(of step: String, on dependency: String, at range: SourceRange) {
        if stepDependencies[step, default: [:]][dependency] == nil {
            stepDependencies[step, default: [:]][dependency] = range
        }
    }

    func scope(for step: StepDefinition, matrix: [(axis: String, value: Value)]) -> ExpressionScope {
        ExpressionScope(
            params: params,
            matrix: step.matrix == nil ? nil : Dictionary(matrix.map { ($0.axis, $0.value) }, uniquingKeysWith: { a, _ in a }),
            steps: summaries,
            stepOrder: stepOrder,
            currentStep: step.id
        )
    }

    mutating func compileNode(_ step: StepDefinition, id: String, matrix: [(axis: String, value: Value)]) -> NodeDraft? {
        var scope = scope(for: step, matrix: matrix)
        var draft = NodeDraft(id: id, step: step.id, matrix: matrix, action: .shell(command: ""))
        for (needed, _) in step.needs {
            draft.dependencies.formUnion(summaries[needed]?.nodes ?? [])
        }

        switch step.action {
        case .op(let name, let range, let arguments, let withRange):
            guard let signature = signatures[name] else {
                let hint = Suggestion.closest(to: name, in: signatures.names).map { "; did you mean '\($0)'?" }
                    ?? "; run 'blacktail ops' to list the ops"
                diagnostics.error("unknown-op", "unknown op '\(name)'\(hint)", at: range)
                return nil
            }
            draft.action = .op(name: signature.name, version: signature.version)
            draft.arguments = compileArguments(arguments, of: signature, stepRange: withRange ?? range, scope: scope, draft: &draft)
            draft.outputs = signature.outputs.map { PlanNode.Output(name: $0.name, type: $0.type, path: nil) }
            // What changes the world outside the run is done every time it is asked for.
            if signature.hasSideEffects { draft.cache = false }
        case .shell(let command, let inputs, let outputs):
            scope.shellInputs = inputs.map(\.key.text)
            scope.shellOutputs = outputs.map(\.name)
            draft.outputs = outputs.map { PlanNode.Output(name: $0.name, type: $0.type, path: $0.path) }
            for input in inputs {
                if let argument = compileInput(input, scope: scope, draft: &draft) {
                    draft.arguments.append((input.key.text, argument))
                }
            }
            draft.action = .shell(command: compileCommand(command, scope: scope, inputs: inputs, outputs: outputs))
        }

        if let condition = step.condition {
            draft.condition = compileCondition(condition, scope: scope, draft: &draft)
        }
        draft.env = step.env.compactMap { entry in
            text(entry.value, scope: scope, what: "environment variable '\(entry.key.text)'").map { (entry.key.text, $0) }
        }
        if let resources = step.resources { draft.resources = compileResources(resources, scope: scope) }
        if let retry = step.retry { draft.retry = compileRetry(retry, scope: scope) }
        if let timeout = step.timeout { draft.timeoutSeconds = duration(.scalar(timeout), scope: scope, what: "'timeout'") }
        if let cache = step.cache,
            case .bool(let enabled)? = constant(.scalar(cache), scope: scope, expected: .bool, what: "'cache'")
        {
            draft.cache = enabled && draft.cache
        }
        return draft
    }

    mutating func compileArguments(
        _ entries: [YAMLMapping.Entry],
        of signature: OpSignature,
        stepRange: SourceRange,
        scope: ExpressionScope,
        draft: inout NodeDraft
    ) -> [(name: String, value: PlanNode.Argument)] {
        var given: [String: PlanNode.Argument] = [:]
        for entry in entries {
            let name = entry.key.text
            guard let spec = signature.argument(name) else {
                let names = signature.arguments.map(\.name)
                let hint = Suggestion.closest(to: name, in: names).map { "; did you mean '\($0)'?" }
                    ?? "; its arguments are \(names.joined(separator: ", "))"
                diagnostics.error("unknown-argument", "op '\(signature.name)' has no argument '\(name)'\(hint)", at: entry.key.range)
                continue
            }
            let what = "argument '\(name)' of \(signature.name)"
            guard let argument = resolve(entry.value, scope: scope, expected: spec.type, what: what, draft: &draft) else { continue }
            if case .value(let value) = argument,
                let problem = Constraint.violation(of: value, minimum: spec.minimum, maximum: spec.maximum, choices: spec.choices)
            {
                diagnostics.error("constraint", "\(what) \(problem)", at: entry.value.range)
                continue
            }
            given[name] = argument
        }
        var arguments: [(name: String, value: PlanNode.Argument)] = []
        var missing: [String] = []
        for spec in signature.arguments {
            if let argument = given[spec.name] {
                arguments.append((spec.name, argument))
            } else if case .defaultValue(let value) = spec.presence {
                arguments.append((spec.name, .value(value)))
            } else if spec.presence == .required, !entries.contains(where: { $0.key.text == spec.name }) {
                missing.append("'\(spec.name)' (\(spec.type.withArticle))")
            }
        }
        if !missing.isEmpty {
            let list = missing.count == 1 ? "argument \(missing[0])" : "arguments " + missing.joined(separator: ", ")
            diagnostics.error("missing-argument", "op '\(signature.name)' needs \(list) under 'with:'", at: stepRange)
        }
        return arguments
    }

    mutating func compileInput(_ entry: YAMLMapping.Entry, scope: ExpressionScope, draft: inout NodeDraft) -> PlanNode.Argument? {
        let what = "input '\(entry.key.text)'"
        guard let argument = resolve(entry.value, scope: scope, expected: nil, what: what, draft: &draft) else { return nil }
        switch argument {
        case .artifact, .artifacts:
            return argument
        case .value(.string(let path)):
            if let problem = PipelineDecoder.relativePathProblem(path) {
                diagnostics.error("invalid-path", "\(what): the path '\(path)' \(problem)", at: entry.value.range)
                return nil
            }
            return .projectFile(path)
        default:
            diagnostics.error(
                "type-mismatch",
                "\(what) is an upstream output (${{ steps.STEP.outputs.NAME }}) or a file path; pass plain values to the command directly",
                at: entry.value.range
            )
            return nil
        }
    }

    mutating func compileCommand(
        _ command: YAMLScalar,
        scope: ExpressionScope,
        inputs: [YAMLMapping.Entry],
        outputs: [OutputDeclaration]
    ) -> String {
        let template: Template
        do throws(ExpressionError) {
            template = try parseTemplate(command.text)
        } catch {
            report(error, in: command, base: 0)
            return command.text
        }
        var text = ""
        var analyzer = ExpressionAnalyzer(scope: scope)
        for segment in template.segments {
            switch segment {
            case .text(let literal):
                text += literal
            case .invalid(let error):
                report(error, in: command, base: 0)
            case .expression(let expression, let offset):
                do throws(ExpressionError) {
                    switch try analyzer.analyze(expression) {
                    case .constant(let value):
                        text += ShellQuoting.quoted(value.interpolated)
                    case .path(let path):
                        text += "${{ \(path.description) }}"
                    case .artifacts:
                        throw ExpressionError(
                            "a command reads upstream outputs through its declared inputs: add it under 'inputs:' and write ${{ inputs.NAME }}",
                            offset: expression.offset,
                            length: expression.length
                        )
                    case .runtime:
                        throw ExpressionError("this value is known only at run time and cannot be part of the command", offset: expression.offset, length: expression.length)
                    }
                } catch {
                    report(error, in: command, base: offset)
                }
            }
        }
        record(analyzer)
        for input in inputs where !analyzer.usedShellInputs.contains(input.key.text) {
            diagnostics.warning("unused-input", "input '\(input.key.text)' is never used in the command; refer to it as ${{ inputs.\(input.key.text) }}", at: input.key.range)
        }
        for output in outputs where output.path == nil && !analyzer.usedShellOutputs.contains(output.name) {
            diagnostics.warning(
                "unused-output",
                "output '\(output.name)' has no 'path' and the command never refers to ${{ outputs.\(output.name) }}, so nothing will write it",
                at: output.range
            )
        }
        return text
    }

    mutating func compileCondition(_ scalar: YAMLScalar, scope: ExpressionScope, draft: inout NodeDraft) -> Expression? {
        var scope = scope
        scope.allowsRuntime = true
        scope.allowsStatusFunctions = true
        // `if:` takes a bare expression, or one wrapped in ${{ }}.
        let expression: Expression
        let base: Int
        do throws(ExpressionError) {
            if scalar.text.contains("${{") {
                let template = try parseTemplate(scalar.text)
                if let error = template.errors.first { throw error }
                guard let (whole, offset) = template.wholeExpression else {
                    throw ExpressionError("'if' is one expression; write it bare or as a single ${{ ... }}", offset: 0, length: scalar.text.unicodeScalars.count)
                }
                (expression, base) = (whole, offset)
            } else {
                (expression, base) = (try ExpressionParser.parse(scalar.text), 0)
            }
        } catch {
            report(error, in: scalar, base: 0)
            return nil
        }
        var analyzer = ExpressionAnalyzer(scope: scope)
        defer { absorb(analyzer, into: &draft, range: scalar.range) }
        do throws(ExpressionError) {
            switch try analyzer.analyze(expression) {
            case .constant(.bool(true)):
                return nil
            case .constant(.bool(false)):
                return Expression(.literal(.bool(false)))
            case .runtime(.bool, let residual):
                return residual
            case let other:
                throw ExpressionError("'if' must be true or false, but this is \(other.type.withArticle)", offset: expression.offset, length: expression.length)
            }
        } catch {
            report(error, in: scalar, base: base)
            return nil
        }
    }

    mutating func compileResources(_ mapping: YAMLMapping, scope: ExpressionScope) -> ResourceRequest {
        var resources = ResourceRequest()
        if let node = mapping["cpu"], case .float(let cpu)? = constant(node, scope: scope, expected: .float, what: "'cpu'") {
            if cpu > 0, cpu <= 4096 { resources.cpu = cpu } else {
                diagnostics.error("constraint", "'cpu' is a number of cores above 0 and at most 4096, not \(Value.float(cpu).literal)", at: node.range)
            }
        }
        if let node = mapping["memory"] {
            switch constant(node, scope: scope, expected: .any, what: "'memory'") {
            case .int(let bytes)? where bytes > 0:
                resources.memoryBytes = Int64(bytes)
            case .string(let text)?:
                if let bytes = Quantity.bytes(text), bytes > 0 { resources.memoryBytes = bytes } else {
                    diagnostics.error("invalid-memory", "'\(text)' is not a memory size; write it like '512MiB', '4GiB' or '2GB'", at: node.range)
                }
            case nil:
                break
            case let other?:
                diagnostics.error("invalid-memory", "'memory' is a size like '4GiB', not \(other.literal)", at: node.range)
            }
        }
        if let node = mapping["gpu"], case .int(let gpu)? = constant(node, scope: scope, expected: .int, what: "'gpu'") {
            if gpu >= 0 { resources.gpu = gpu } else {
                diagnostics.error("constraint", "'gpu' is a count of GPUs, 0 or more", at: node.range)
            }
        }
        if let node = mapping["labels"] {
            let value: Value? = if case .scalar = node { constant(node, scope: scope, expected: .string, what: "'labels'").map { .list([$0]) } }
                else { constant(node, scope: scope, expected: .list(.string), what: "'labels'") }
            if case .list(let labels)? = value {
                resources.labels = labels.compactMap { if case .string(let label) = $0 { label } else { nil } }
            }
        }
        return resources
    }

    mutating func compileRetry(_ node: YAMLNode, scope: ExpressionScope) -> RetryPolicy {
        var retry = RetryPolicy()
        var attemptsNode: YAMLNode? = node
        var backoff: YAMLMapping?
        if case .mapping(let mapping) = node {
            var decoder = PipelineDecoder(diagnostics: diagnostics)
            decoder.checkKeys(mapping, allowed: RetryPolicy.keys, in: "'retry'")
            attemptsNode = mapping["attempts"]
            if let backoffNode = mapping["backoff"] {
                if case .mapping(let backoffMapping) = backoffNode {
                    decoder.checkKeys(backoffMapping, allowed: RetryPolicy.backoffKeys, in: "'backoff'")
                    backoff = backoffMapping
                } else {
                    decoder.diagnostics.error("expected-mapping", "'backoff' is a mapping (initial, factor, max)", at: backoffNode.range)
                }
            }
            diagnostics = decoder.diagnostics
        }
        if let attemptsNode, case .int(let attempts)? = constant(attemptsNode, scope: scope, expected: .int, what: "'attempts'") {
            if (1...100).contains(attempts) { retry.attempts = attempts } else {
                diagnostics.error("constraint", "'attempts' counts every try, from 1 to 100", at: attemptsNode.range)
            }
        }
        if let backoff {
            if let node = backoff["initial"], let seconds = duration(node, scope: scope, what: "'initial'") { retry.initialBackoffSeconds = seconds }
            if let node = backoff["max"], let seconds = duration(node, scope: scope, what: "'max'") { retry.maximumBackoffSeconds = seconds }
            if let node = backoff["factor"], case .float(let factor)? = constant(node, scope: scope, expected: .float, what: "'factor'") {
                if factor >= 1, factor <= 100 { retry.backoffFactor = factor } else {
                    diagnostics.error("constraint", "'factor' is between 1 and 100", at: node.range)
                }
            }
        }
        return retry
    }

    mutating func duration(_ node: YAMLNode, scope: ExpressionScope, what: String) -> Double? {
        guard let value = constant(node, scope: scope, expected: .any, what: what) else { return nil }
        guard case .string(let text) = value, let seconds = Quantity.seconds(text), seconds > 0 else {
            diagnostics.error("invalid-duration", "\(what) is a duration with units, like '90s', '30m' or '1h30m', not \(value.literal)", at: node.range)
            return nil
        }
        return seconds
    }
}
