/// Turns a checked ``PipelineDefinition`` into a ``Plan``: resolves parameters, expands matrices,
/// evaluates expressions, checks op arguments against their signatures, orders the graph and
/// derives every node's key.
struct PlanBuilder {
    let definition: PipelineDefinition
    let source: SourceFile
    let signatures: OpSignatureSet
    let limits: PipelineCompiler.Limits
    var diagnostics: DiagnosticCollector

    private var params: [String: Value] = [:]
    private var usedParams: Set<String> = []
    private var summaries: [String: StepSummary] = [:]
    private var stepOrder: [String] = []
    /// For each step, the steps it depends on and where the first reference to each is.
    private var stepDependencies: [String: [String: SourceRange]] = [:]
    /// The matrix axes the step being compiled has used so far, over all its instances.
    private var usedMatrixAxes: Set<String> = []
    /// Parsed strings by their text: matrix instances and repeated fields parse each text once.
    private var templates: [String: Result<Template, ExpressionError>] = [:]

    init(
        definition: PipelineDefinition,
        source: SourceFile,
        signatures: OpSignatureSet,
        limits: PipelineCompiler.Limits,
        diagnostics: DiagnosticCollector
    ) {
        self.definition = definition
        self.source = source
        self.signatures = signatures
        self.limits = limits
        self.diagnostics = diagnostics
    }

    mutating func build(overrides: [(name: String, value: String)], fileDigest: String) -> Plan? {
        resolveParams(overrides)
        stepOrder = definition.steps.map(\.id)

        // Matrices first: a reference to a fanned-out step is a list, so every step's shape must be
        // known before any expression is checked.
        var instances: [[[(axis: String, value: Value)]]] = []
        var nodeCount = 0
        var failedMatrices: Set<String> = []
        for step in definition.steps {
            let expanded = expandMatrix(step)
            if step.matrix != nil, expanded == nil { failedMatrices.insert(step.id) }
            let combinations = expanded ?? [[]]
            instances.append(combinations)
            nodeCount += combinations.count
            let ids = step.matrix == nil ? [step.id] : combinations.indices.map { "\(step.id)[\($0)]" }
            summaries[step.id] = StepSummary(outputs: outputs(of: step), nodes: ids, fansOut: step.matrix != nil)
        }
        guard nodeCount <= limits.maximumNodes else {
            diagnostics.error("plan-too-large", "the plan would have \(nodeCount) nodes; the limit is \(limits.maximumNodes)", at: nil)
            return nil
        }

        var drafts: [NodeDraft] = []
        drafts.reserveCapacity(nodeCount)
        for (stepIndex, step) in definition.steps.enumerated() {
            checkNeeds(step)
            // A step whose matrix is in error was reported; its values cannot be checked without it.
            if failedMatrices.contains(step.id) { continue }
            usedMatrixAxes = []
            for (instanceIndex, matrix) in instances[stepIndex].enumerated() {
                let id = summaries[step.id]!.nodes[instanceIndex]
                if let draft = compileNode(step, id: id, matrix: matrix) {
                    drafts.append(draft)
                }
            }
            reportUnusedAxes(of: step, combinations: instances[stepIndex])
        }
        // With errors, what counts as used is not reliable: a step in error is not fully read.
        if !diagnostics.hasErrors { reportUnusedParams() }
        if reportCycles() || diagnostics.hasErrors { return nil }

        let ordered = topologicalOrder(drafts)
        var keys: [String: String] = [:]
        keys.reserveCapacity(ordered.count)
        var position: [String: Int] = [:]
        for (index, draft) in ordered.enumerated() { position[draft.id] = index }
        var nodes: [PlanNode] = []
        nodes.reserveCapacity(ordered.count)
        for draft in ordered {
            let needs = draft.dependencies.sorted { position[$0]! < position[$1]! }
            let key = Self.key(of: draft, needs: needs, keys: keys)
            keys[draft.id] = key
            nodes.append(draft.node(needs: needs, key: key))
        }
        return Plan(
            pipelineName: definition.name,
            description: definition.description,
            fileDigest: fileDigest,
            params: definition.params.compactMap { param in params[param.name].map { (param.name, $0) } },
            schedules: definition.schedules.map(\.schedule.expression),
            nodes: nodes
        )
    }

    // MARK: Parameters

    private mutating func resolveParams(_ overrides: [(name: String, value: String)]) {
        let declared = Dictionary(definition.params.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for param in definition.params {
            if let value = param.defaultValue { params[param.name] = value }
        }
        var rejected: Set<String> = []
        for (name, text) in overrides {
            guard let param = declared[name] else {
                let names = definition.params.map(\.name)
                let known = names.isEmpty ? "the pipeline declares no parameters" : "its parameters are \(names.joined(separator: ", "))"
                diagnostics.error("unknown-param", "-p \(name)=...: unknown parameter '\(name)'\(Suggestion.didYouMean(name, in: names)); \(known)", at: nil)
                continue
            }
            guard let value = Coercion.parse(text, as: param.type) else {
                diagnostics.error("type-mismatch", "-p \(name)=\(text): parameter '\(name)' is \(param.type.withArticle)", at: nil)
                rejected.insert(name)
                continue
            }
            if let problem = Constraint.violation(of: value, minimum: param.minimum, maximum: param.maximum, choices: param.choices) {
                diagnostics.error("constraint", "-p \(name)=\(text): the value \(problem)", at: nil)
                rejected.insert(name)
                continue
            }
            params[name] = value
        }
        for param in definition.params where params[param.name] == nil {
            guard param.isValid, !rejected.contains(param.name) else {
                params[param.name] = Self.placeholder(for: param.type)
                continue
            }
            diagnostics.error(
                "missing-param",
                "parameter '\(param.name)' has no default; give it a value with -p \(param.name)=VALUE",
                at: param.range
            )
            // A placeholder of the right type lets the rest of the file be checked.
            params[param.name] = Self.placeholder(for: param.type)
        }
    }

    private static func placeholder(for type: ValueType) -> Value {
        switch type {
        case .int: .int(0)
        case .float: .float(0)
        case .bool: .bool(false)
        case .list: .list([])
        default: .string("")
        }
    }

    /// Instances that differ only in an axis the step never reads would compute the same thing.
    private mutating func reportUnusedAxes(of step: StepDefinition, combinations: [[(axis: String, value: Value)]]) {
        guard let matrix = step.matrix, combinations.count > 1 else { return }
        for entry in matrix.entries where entry.key.text != "include" && entry.key.text != "exclude" {
            guard !usedMatrixAxes.contains(entry.key.text) else { continue }
            diagnostics.warning(
                "unused-axis",
                "matrix axis '\(entry.key.text)' is never used by step '\(step.id)'; its instances differ only by it and would compute the same thing",
                at: entry.key.range
            )
        }
    }

    private mutating func reportUnusedParams() {
        for param in definition.params where param.isValid && !usedParams.contains(param.name) {
            diagnostics.warning("unused-param", "parameter '\(param.name)' is never used", at: param.range)
        }
    }

    // MARK: Matrix

    private mutating func expandMatrix(_ step: StepDefinition) -> [[(axis: String, value: Value)]]? {
        guard let matrix = step.matrix else { return nil }
        let scope = ExpressionScope(params: params, matrix: nil, steps: [:], stepOrder: definition.steps.map(\.id), currentStep: step.id)
        var axes: [(name: String, values: [Value])] = []
        for entry in matrix.entries where entry.key.text != "include" && entry.key.text != "exclude" {
            guard Naming.isIdentifier(entry.key.text) else {
                diagnostics.error("invalid-name", "'\(entry.key.text)' is not a valid matrix axis name: use letters, digits and '_'", at: entry.key.range)
                return nil
            }
            guard let value = constant(entry.value, scope: scope, expected: .list(.any), what: "matrix axis '\(entry.key.text)'") else {
                return nil
            }
            guard case .list(let values) = value, !values.isEmpty else {
                diagnostics.error("invalid-matrix", "matrix axis '\(entry.key.text)' needs at least one value", at: entry.value.range)
                return nil
            }
            axes.append((entry.key.text, values))
        }
        var count = 1
        for axis in axes {
            let (product, overflow) = count.multipliedReportingOverflow(by: axis.values.count)
            count = overflow ? Int.max : product
        }
        guard count <= limits.maximumMatrixInstances * 4 else {
            diagnostics.error(
                "matrix-too-large",
                "the matrix of step '\(step.id)' has \(count == .max ? "too many" : String(count)) combinations; the limit is \(limits.maximumMatrixInstances)",
                at: SourceRange(matrix.location)
            )
            return nil
        }
        var combinations: [[(axis: String, value: Value)]] = axes.isEmpty ? [] : [[]]
        for axis in axes {
            combinations = combinations.flatMap { prefix in axis.values.map { prefix + [(axis.name, $0)] } }
        }
        let axisNames = axes.map(\.name)
        if let exclude = matrix["exclude"] {
            for (rule, _) in matrixRules(exclude, scope: scope, axes: axisNames, requireAll: false) where !rule.isEmpty {
                combinations.removeAll { combination in
                    rule.allSatisfy { key, value in
                        combination.contains { $0.axis == key && ConstantFolding.equal($0.value, value) }
                    }
                }
            }
        }
        if let include = matrix["include"] {
            for (rule, _) in matrixRules(include, scope: scope, axes: axisNames, requireAll: true) {
                let combination = axisNames.map { name in (axis: name, value: rule.first { $0.0 == name }!.1) }
                let exists = combinations.contains { existing in
                    zip(existing, combination).allSatisfy { ConstantFolding.equal($0.value, $1.value) }
                }
                if !exists { combinations.append(combination) }
            }
        }
        if combinations.isEmpty {
            diagnostics.error("invalid-matrix", "the matrix of step '\(step.id)' has no combinations left", at: SourceRange(matrix.location))
            return nil
        }
        guard combinations.count <= limits.maximumMatrixInstances else {
            diagnostics.error(
                "matrix-too-large",
                "the matrix of step '\(step.id)' has \(combinations.count) combinations; the limit is \(limits.maximumMatrixInstances)",
                at: SourceRange(matrix.location)
            )
            return nil
        }
        return combinations
    }

    /// The entries of `include:` or `exclude:`, each a partial (or, for include, full) combination.
    private mutating func matrixRules(
        _ node: YAMLNode,
        scope: ExpressionScope,
        axes: [String],
        requireAll: Bool
    ) -> [([(String, Value)], SourceRange)] {
        guard case .sequence(let sequence) = node else {
            diagnostics.error("invalid-matrix", "'include' and 'exclude' are lists of mappings from axis to value", at: node.range)
            return []
        }
        var rules: [([(String, Value)], SourceRange)] = []
        for item in sequence.items {
            guard case .mapping(let mapping) = item else {
                diagnostics.error("invalid-matrix", "each entry is a mapping from axis to value", at: item.range)
                continue
            }
            if mapping.entries.isEmpty {
                diagnostics.error("invalid-matrix", "an entry names at least one axis and its value", at: item.range)
                continue
            }
            var rule: [(String, Value)] = []
            for entry in mapping.entries {
                guard axes.contains(entry.key.text) else {
                    diagnostics.error(
                        "unknown-axis",
                        "unknown matrix axis '\(entry.key.text)'\(Suggestion.didYouMean(entry.key.text, in: axes))",
                        at: entry.key.range
                    )
                    continue
                }
                if let value = constant(entry.value, scope: scope, expected: .any, what: "a matrix value") {
                    rule.append((entry.key.text, value))
                }
            }
            let missing = axes.filter { name in !rule.contains { $0.0 == name } }
            if requireAll, !missing.isEmpty {
                diagnostics.error("invalid-matrix", "an 'include' entry gives every axis; this one lacks \(missing.joined(separator: ", "))", at: item.range)
                continue
            }
            rules.append((rule, item.range))
        }
        return rules
    }

    // MARK: Steps

    private func outputs(of step: StepDefinition) -> [(name: String, type: ArtifactType)] {
        switch step.action {
        case .op(let name, _, _, _):
            return signatures[name]?.outputs.map { ($0.name, $0.type) } ?? []
        case .shell(_, _, let outputs):
            return outputs.map { ($0.name, $0.type) }
        }
    }

    private mutating func checkNeeds(_ step: StepDefinition) {
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

    private mutating func addDependency(of step: String, on dependency: String, at range: SourceRange) {
        if stepDependencies[step, default: [:]][dependency] == nil {
            stepDependencies[step, default: [:]][dependency] = range
        }
    }

    private func scope(for step: StepDefinition, matrix: [(axis: String, value: Value)]) -> ExpressionScope {
        ExpressionScope(
            params: params,
            matrix: step.matrix == nil ? nil : Dictionary(matrix.map { ($0.axis, $0.value) }, uniquingKeysWith: { a, _ in a }),
            steps: summaries,
            stepOrder: stepOrder,
            currentStep: step.id
        )
    }

    private mutating func compileNode(_ step: StepDefinition, id: String, matrix: [(axis: String, value: Value)]) -> NodeDraft? {
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
            draft.cache = enabled
        }
        return draft
    }

    private mutating func compileArguments(
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

    private mutating func compileInput(_ entry: YAMLMapping.Entry, scope: ExpressionScope, draft: inout NodeDraft) -> PlanNode.Argument? {
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

    private mutating func compileCommand(
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

    private mutating func compileCondition(_ scalar: YAMLScalar, scope: ExpressionScope, draft: inout NodeDraft) -> Expression? {
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

    private mutating func compileResources(_ mapping: YAMLMapping, scope: ExpressionScope) -> ResourceRequest {
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

    private mutating func compileRetry(_ node: YAMLNode, scope: ExpressionScope) -> RetryPolicy {
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

    private mutating func duration(_ node: YAMLNode, scope: ExpressionScope, what: String) -> Double? {
        guard let value = constant(node, scope: scope, expected: .any, what: what) else { return nil }
        guard case .string(let text) = value, let seconds = Quantity.seconds(text), seconds > 0 else {
            diagnostics.error("invalid-duration", "\(what) is a duration with units, like '90s', '30m' or '1h30m', not \(value.literal)", at: node.range)
            return nil
        }
        return seconds
    }

    // MARK: Values

    /// A value that must be known at plan time, fitted to `expected`.
    private mutating func constant(_ node: YAMLNode, scope: ExpressionScope, expected: ValueType, what: String) -> Value? {
        var draft = NodeDraft(id: "", step: "", matrix: [], action: .shell(command: ""))
        guard let argument = resolve(node, scope: scope, expected: expected, what: what, draft: &draft) else { return nil }
        guard case .value(let value) = argument else {
            diagnostics.error("not-static", "\(what) must be known when the plan is made; it cannot depend on step outputs", at: node.range)
            return nil
        }
        return value
    }

    /// The text of a string field, with expressions interpolated.
    private mutating func text(_ node: YAMLNode, scope: ExpressionScope, what: String) -> String? {
        guard let value = constant(node, scope: scope, expected: .any, what: what) else { return nil }
        if case .list = value {
            diagnostics.error("type-mismatch", "\(what) is text, not a list", at: node.range)
            return nil
        }
        return value.interpolated
    }

    /// Resolves a YAML value, with its expressions, to an argument; checks it against `expected`.
    private mutating func resolve(
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

    private mutating func resolveScalar(
        _ scalar: YAMLScalar,
        scope: ExpressionScope,
        what: String,
        draft: inout NodeDraft
    ) -> PlanNode.Argument? {
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
    private mutating func check(_ argument: PlanNode.Argument, against expected: ValueType, what: String, at range: SourceRange) -> PlanNode.Argument? {
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
        }
        diagnostics.error("type-mismatch", "\(what) takes \(expected.withArticle), but this is \(actual.withArticle)", at: range)
        return nil
    }

    /// Records what an analyzed expression used: parameters, matrix axes, and the steps and nodes
    /// it depends on (metrics read at run time make their nodes dependencies).
    private mutating func absorb(_ analyzer: ExpressionAnalyzer, into draft: inout NodeDraft, range: SourceRange) {
        record(analyzer)
        guard !draft.step.isEmpty else { return }
        for step in analyzer.referencedSteps {
            addDependency(of: draft.step, on: step, at: range)
        }
        draft.dependencies.formUnion(analyzer.runtimeReferences.map(\.node))
    }

    private mutating func record(_ analyzer: ExpressionAnalyzer) {
        usedParams.formUnion(analyzer.usedParams)
        usedMatrixAxes.formUnion(analyzer.usedMatrixAxes)
    }

    private mutating func parseTemplate(_ text: String) throws(ExpressionError) -> Template {
        if let cached = templates[text] { return try cached.get() }
        let result = Result { () throws(ExpressionError) in try Template.parse(text) }
        templates[text] = result
        return try result.get()
    }

    private mutating func report(_ error: ExpressionError, in scalar: YAMLScalar, base: Int) {
        let location = scalar.location(atOffset: base + error.offset, in: source)
        diagnostics.error("expression", error.message, at: SourceRange(location, length: error.length))
    }

    // MARK: Graph

    /// Reports every cycle among steps, with its path; returns whether there was one.
    private mutating func reportCycles() -> Bool {
        let cycles = DependencyGraph.cycles(order: stepOrder, edges: stepDependencies.mapValues { Array($0.keys) })
        let ranges = Dictionary(definition.steps.map { ($0.id, $0.range) }, uniquingKeysWith: { a, _ in a })
        for cycle in cycles {
            let path = (cycle + [cycle[0]]).joined(separator: " -> ")
            let notes = zip(cycle, cycle.dropFirst() + [cycle[0]]).compactMap { from, to in
                stepDependencies[from]?[to].map { Diagnostic.Note("'\(from)' depends on '\(to)' here", at: $0) }
            }
            diagnostics.error("cycle", "the steps form a cycle: \(path)", at: ranges[cycle[0]], notes: notes)
        }
        return !cycles.isEmpty
    }

    private func topologicalOrder(_ drafts: [NodeDraft]) -> [NodeDraft] {
        let index = Dictionary(uniqueKeysWithValues: drafts.enumerated().map { ($1.id, $0) })
        let dependencies = drafts.map { draft in draft.dependencies.compactMap { index[$0] } }
        let order = DependencyGraph.topologicalOrder(count: drafts.count, dependencies: dependencies)
        return order.map { drafts[$0] }
    }

    private static func key(of draft: NodeDraft, needs: [String], keys: [String: String]) -> String {
        var content: [String: JSONValue] = [
            "plan_format": .string(Plan.format),
            "arguments": .object(Dictionary(uniqueKeysWithValues: draft.arguments.map { ($0.name, $0.value.keyed(by: keys)) })),
            "outputs": .object(Dictionary(uniqueKeysWithValues: draft.outputs.map { output in
                (output.name, ["type": .string(output.type.rawValue), "path": JSONValue(output.path)])
            })),
            "env": .object(Dictionary(uniqueKeysWithValues: draft.env.map { ($0.name, .string($0.value)) })),
            "upstream": .array(needs.map { .string(keys[$0] ?? "") }),
        ]
        switch draft.action {
        case .op(let name, let version): content["op"] = ["name": .string(name), "version": .int(version)]
        case .shell(let command): content["run"] = .string(command)
        }
        return PipelineCompiler.sha256(JSONValue.object(content).canonicalBytes)
    }
}

/// A node under construction.
struct NodeDraft {
    var id: String
    var step: String
    var matrix: [(axis: String, value: Value)]
    var action: PlanNode.Action
    var arguments: [(name: String, value: PlanNode.Argument)] = []
    var outputs: [PlanNode.Output] = []
    var dependencies: Set<String> = []
    var condition: Expression?
    var env: [(name: String, value: String)] = []
    var resources = ResourceRequest()
    var retry = RetryPolicy()
    var timeoutSeconds: Double?
    var cache = true

    init(id: String, step: String, matrix: [(axis: String, value: Value)], action: PlanNode.Action) {
        self.id = id
        self.step = step
        self.matrix = matrix
        self.action = action
    }

    func node(needs: [String], key: String) -> PlanNode {
        PlanNode(
            id: id,
            step: step,
            matrix: matrix,
            action: action,
            arguments: arguments,
            outputs: outputs,
            needs: needs,
            condition: condition,
            env: env,
            resources: resources,
            retry: retry,
            timeoutSeconds: timeoutSeconds,
            cache: cache,
            key: key
        )
    }
}
