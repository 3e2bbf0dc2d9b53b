/// Turns a checked ``PipelineDefinition`` into a ``Plan``: resolves parameters, expands matrices,
/// evaluates expressions, checks op arguments against their signatures, orders the graph and
/// derives every node's key.
struct PlanBuilder {
    let definition: PipelineDefinition
    let source: SourceFile
    let signatures: OpSignatureSet
    let limits: PipelineCompiler.Limits
    let marketModels: [String: MarketModels.Resolution]
    var diagnostics: DiagnosticCollector

    var params: [String: Value] = [:]
    var usedParams: Set<String> = []
    var summaries: [String: StepSummary] = [:]
    var stepOrder: [String] = []
    /// For each step, the steps it depends on and where the first reference to each is.
    var stepDependencies: [String: [String: SourceRange]] = [:]
    /// The matrix axes the step being compiled has used so far, over all its instances.
    var usedMatrixAxes: Set<String> = []
    /// Parsed strings by their text: matrix instances and repeated fields parse each text once.
    var templates: [String: Result<Template, ExpressionError>] = [:]
    /// The market models the steps use, by node id.
    var marketNodes: [String: MarketModels.Pin] = [:]

    init(
        definition: PipelineDefinition,
        source: SourceFile,
        signatures: OpSignatureSet,
        limits: PipelineCompiler.Limits,
        marketModels: [String: MarketModels.Resolution] = [:],
        diagnostics: DiagnosticCollector
    ) {
        self.definition = definition
        self.source = source
        self.signatures = signatures
        self.limits = limits
        self.marketModels = marketModels
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
        var unusedAxes: [Diagnostic] = []
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
            unusedAxes += unreadAxes(of: step, combinations: instances[stepIndex])
        }
        drafts += marketDrafts()
        // With errors, what counts as used is not reliable: a step in error is not fully read.
        if !diagnostics.hasErrors {
            reportUnusedParams()
            for warning in unusedAxes { diagnostics.report(warning) }
        }
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

    mutating func resolveParams(_ overrides: [(name: String, value: String)]) {
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

    static func placeholder(for type: ValueType) -> Value {
        switch type {
        case .int: .int(0)
        case .float: .float(0)
        case .bool: .bool(false)
        case .list: .list([])
        default: .string("")
        }
    }

    /// Warnings for axes the step never reads, when instances differ by them: such instances would
    /// compute the same thing.
    func unreadAxes(of step: StepDefinition, combinations: [[(axis: String, value: Value)]]) -> [Diagnostic] {
        guard let matrix = step.matrix, combinations.count > 1 else { return [] }
        var warnings: [Diagnostic] = []
        for entry in matrix.entries where entry.key.text != "include" && entry.key.text != "exclude" {
            guard !usedMatrixAxes.contains(entry.key.text) else { continue }
            let values = combinations.compactMap { $0.first { $0.axis == entry.key.text }?.value }
            guard Set(values.map(\.literal)).count > 1 else { continue }
            warnings.append(.warning(
                "unused-axis",
                "matrix axis '\(entry.key.text)' is never used by step '\(step.id)'; its instances differ only by it and would compute the same thing",
                at: entry.key.range
            ))
        }
        return warnings
    }

    mutating func reportUnusedParams() {
        for param in definition.params where param.isValid && !usedParams.contains(param.name) {
            diagnostics.warning("unused-param", "parameter '\(param.name)' is never used", at: param.range)
        }
    }

    // MARK: Graph

    /// Reports every cycle among steps, with its path; returns whether there was one.
    mutating func reportCycles() -> Bool {
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

    func topologicalOrder(_ drafts: [NodeDraft]) -> [NodeDraft] {
        let index = Dictionary(uniqueKeysWithValues: drafts.enumerated().map { ($1.id, $0) })
        let dependencies = drafts.map { draft in draft.dependencies.compactMap { index[$0] } }
        let order = DependencyGraph.topologicalOrder(count: drafts.count, dependencies: dependencies)
        return order.map { drafts[$0] }
    }

    static func key(of draft: NodeDraft, needs: [String], keys: [String: String]) -> String {
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
