/// Checks the structure of a pipeline file (its keys, names and fixed-form values) and builds a
/// ``PipelineDefinition``, reporting every problem it finds rather than stopping at the first.
struct PipelineDecoder {
    var diagnostics: DiagnosticCollector

    static let topLevelKeys = ["version", "name", "description", "params", "schedule", "steps"]
    static let stepKeys = ["uses", "with", "run", "inputs", "outputs", "needs", "if", "matrix", "resources", "retry", "timeout", "cache", "env", "description"]
    static let paramKeys = ["type", "default", "min", "max", "choices", "items", "description"]
    static let paramTypes = ["int", "float", "string", "bool", "list"]

    init(diagnostics: DiagnosticCollector) {
        self.diagnostics = diagnostics
    }

    mutating func decode(_ root: YAMLNode) -> PipelineDefinition? {
        guard case .mapping(let top) = root else {
            diagnostics.error("expected-mapping", "a pipeline file is a mapping with 'version', 'name' and 'steps', not \(root.kindDescription)", at: root.range)
            return nil
        }
        checkKeys(top, allowed: Self.topLevelKeys, in: "a pipeline file")

        if let version = top.entry("version") {
            if case .scalar(let scalar) = version.value, scalar.isPlain, scalar.text == "1" {
                // The only version there is.
            } else {
                diagnostics.error("unsupported-version", "this Blacktail reads pipeline files of 'version: 1'", at: version.value.range)
            }
        } else {
            diagnostics.error("missing-key", "the pipeline has no 'version'; start the file with 'version: 1'", at: SourceRange(top.location))
        }

        var name = ""
        if let entry = top.entry("name") {
            if let text = string(entry.value, what: "the pipeline's name") {
                if Naming.isPipelineName(text) {
                    name = text
                } else {
                    diagnostics.error(
                        "invalid-name",
                        "'\(text)' is not a valid pipeline name: use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit (at most 100)",
                        at: entry.value.range
                    )
                }
            }
        } else {
            diagnostics.error("missing-key", "the pipeline has no 'name'", at: SourceRange(top.location))
        }

        let description = top["description"].flatMap { string($0, what: "the description") }
        let params = top["params"].map { decodeParams($0) } ?? []
        let schedules = top["schedule"].map { decodeSchedule($0) } ?? []

        var steps: [StepDefinition] = []
        if let stepsNode = top["steps"] {
            if case .mapping(let mapping) = stepsNode {
                if mapping.entries.isEmpty {
                    diagnostics.error("no-steps", "the pipeline has no steps", at: stepsNode.range)
                }
                for entry in mapping.entries {
                    if let step = decodeStep(entry) { steps.append(step) }
                }
            } else {
                diagnostics.error("expected-mapping", "'steps' is a mapping of step ids to steps, not \(stepsNode.kindDescription)", at: stepsNode.range)
            }
        } else {
            diagnostics.error("missing-key", "the pipeline has no 'steps'", at: SourceRange(top.location))
        }
        return PipelineDefinition(name: name, description: description, params: params, schedules: schedules, steps: steps)
    }

    // MARK: Params

    private mutating func decodeParams(_ node: YAMLNode) -> [ParamDeclaration] {
        guard case .mapping(let mapping) = node else {
            diagnostics.error("expected-mapping", "'params' is a mapping of parameter names to declarations, not \(node.kindDescription)", at: node.range)
            return []
        }
        var params: [ParamDeclaration] = []
        for entry in mapping.entries {
            guard checkIdentifier(entry.key, what: "parameter name") else { continue }
            if let param = decodeParam(entry) { params.append(param) }
        }
        return params
    }

    private mutating func decodeParam(_ entry: YAMLMapping.Entry) -> ParamDeclaration? {
        let name = entry.key.text
        // `lr: 0.01` declares a parameter whose type is its default's.
        guard case .mapping(let body) = entry.value else {
            guard let value = staticValue(entry.value) else {
                // The value's own error was reported.
                return ParamDeclaration(name: name, range: entry.key.range, type: .any).invalid
            }
            guard value != Value.null else {
                diagnostics.error("invalid-param", "parameter '\(name)' needs a default or a declaration with 'type:'", at: entry.value.range)
                return ParamDeclaration(name: name, range: entry.key.range, type: .any).invalid
            }
            // `[1, 2.5]` is a list of floats: its ints are stored as floats, as `-p xs=1,2.5` would give.
            return ParamDeclaration(name: name, range: entry.key.range, type: value.type, defaultValue: Coercion.coerce(value, to: value.type))
        }
        checkKeys(body, allowed: Self.paramKeys, in: "a parameter")
        var param = ParamDeclaration(name: name, range: entry.key.range, type: .any)
        param.description = body["description"].flatMap { string($0, what: "a description") }
        let defaultValue = body["default"].flatMap { staticValue($0) }
        // A default whose value was in error was reported; the declaration is not checked further.
        if body["default"] != nil, defaultValue == nil { return param.invalid }
        if let typeEntry = body.entry("type") {
            guard let typeName = string(typeEntry.value, what: "a parameter type") else { return param.invalid }
            guard Self.paramTypes.contains(typeName) else {
                diagnostics.error(
                    "unknown-type",
                    "unknown parameter type '\(typeName)'\(Suggestion.didYouMean(typeName, in: Self.paramTypes)); the types are \(Self.paramTypes.joined(separator: ", "))",
                    at: typeEntry.value.range
                )
                return param.invalid
            }
            param.type = ValueType(name: typeName)!
            if typeName == "list", let items = body.entry("items") {
                let itemName = string(items.value, what: "a list item type") ?? ""
                if let itemType = ValueType(name: itemName), [.int, .float, .string, .bool].contains(itemType) {
                    param.type = .list(itemType)
                } else {
                    diagnostics.error("unknown-type", "list items are int, float, string or bool, not '\(itemName)'", at: items.value.range)
                }
            } else if let items = body.entry("items") {
                diagnostics.error("invalid-param", "'items' applies only to parameters of type list", at: items.key.range)
            }
        } else if let defaultValue, defaultValue != Value.null {
            param.type = defaultValue.type
        } else {
            diagnostics.error("invalid-param", "parameter '\(name)' needs a 'type' or a 'default'", at: entry.key.range)
            return param.invalid
        }

        if let defaultValue, defaultValue != Value.null {
            guard let coerced = Coercion.coerce(defaultValue, to: param.type) else {
                diagnostics.error(
                    "type-mismatch",
                    "the default of '\(name)' is \(defaultValue.type.withArticle), but the parameter is \(param.type.withArticle)",
                    at: body["default"]!.range
                )
                return param.invalid
            }
            param.defaultValue = coerced
        }
        for bound in ["min", "max"] {
            guard let entry = body.entry(bound) else { continue }
            guard param.type.isNumeric || param.type == .list(.int) || param.type == .list(.float) else {
                diagnostics.error("invalid-param", "'\(bound)' applies only to numeric parameters", at: entry.key.range)
                continue
            }
            guard let number = staticValue(entry.value)?.number else {
                diagnostics.error("type-mismatch", "'\(bound)' must be a number", at: entry.value.range)
                continue
            }
            if bound == "min" { param.minimum = number } else { param.maximum = number }
        }
        if let minimum = param.minimum, let maximum = param.maximum, minimum > maximum {
            diagnostics.error("invalid-param", "the 'min' of '\(name)' is larger than its 'max'", at: body.entry("min")!.value.range)
        }
        if let entry = body.entry("choices") {
            if case .sequence(let sequence) = entry.value, !sequence.items.isEmpty {
                var choices: [Value] = []
                let elementType = if case .list(let element) = param.type { element } else { param.type }
                for item in sequence.items {
                    guard let value = staticValue(item) else { continue }
                    guard let coerced = Coercion.coerce(value, to: elementType) else {
                        diagnostics.error("type-mismatch", "the choice \(value.literal) is not \(elementType.withArticle)", at: item.range)
                        continue
                    }
                    choices.append(coerced)
                }
                param.choices = choices
            } else {
                diagnostics.error("invalid-param", "'choices' is a non-empty list of allowed values", at: entry.value.range)
            }
        }
        if let defaultValue = param.defaultValue, let problem = Constraint.violation(of: defaultValue, minimum: param.minimum, maximum: param.maximum, choices: param.choices) {
            diagnostics.error("constraint", "the default of '\(name)' \(problem)", at: body["default"]!.range)
        }
        return param
    }

    // MARK: Schedule

    private mutating func decodeSchedule(_ node: YAMLNode) -> [(schedule: CronSchedule, range: SourceRange)] {
        let items: [YAMLNode]
        switch node {
        case .scalar: items = [node]
        case .sequence(let sequence): items = sequence.items
        case .mapping:
            diagnostics.error("invalid-schedule", "'schedule' is a cron expression or a list of them", at: node.range)
            return []
        }
        var schedules: [(CronSchedule, SourceRange)] = []
        for item in items {
            // GitHub's `- cron: '...'` form is accepted too.
            var expressionNode = item
            if case .mapping(let mapping) = item, mapping.entries.count == 1, let cron = mapping["cron"] {
                expressionNode = cron
            }
            guard let text = string(expressionNode, what: "a cron expression") else { continue }
            do {
                schedules.append((try CronSchedule(text), expressionNode.range))
            } catch {
                diagnostics.error("invalid-cron", "invalid cron expression '\(text)': \(error.message)", at: expressionNode.range)
            }
        }
        return schedules
    }

    // MARK: Steps

    private mutating func decodeStep(_ entry: YAMLMapping.Entry) -> StepDefinition? {
        let id = entry.key.text
        guard checkIdentifier(entry.key, what: "step id") else { return nil }
        guard case .mapping(let body) = entry.value else {
            diagnostics.error("expected-mapping", "step '\(id)' is a mapping with 'uses:' or 'run:', not \(entry.value.kindDescription)", at: entry.value.range)
            return nil
        }
        checkKeys(body, allowed: Self.stepKeys, in: "a step")

        let action: StepDefinition.Action
        switch (body.entry("uses"), body.entry("run")) {
        case (let uses?, nil):
            for key in ["inputs", "outputs"] {
                if let extra = body.entry(key) {
                    diagnostics.error("misplaced-key", "'\(key)' belongs to 'run:' steps; an op's inputs are arguments under 'with:' and its outputs are fixed by the op", at: extra.key.range)
                }
            }
            guard let name = string(uses.value, what: "an op name") else { return nil }
            var arguments: [YAMLMapping.Entry] = []
            var withRange: SourceRange?
            if let with = body.entry("with") {
                withRange = with.key.range
                if case .mapping(let mapping) = with.value {
                    arguments = mapping.entries
                } else if !(with.value.isNullScalar) {
                    diagnostics.error("expected-mapping", "'with' is a mapping of argument names to values, not \(with.value.kindDescription)", at: with.value.range)
                }
            }
            action = .op(name: name, range: uses.value.range, arguments: arguments, withRange: withRange)
        case (nil, let run?):
            if let extra = body.entry("with") {
                diagnostics.error("misplaced-key", "'with' gives arguments to an op ('uses:'); a 'run:' step takes 'inputs:' and 'outputs:'", at: extra.key.range)
            }
            guard case .scalar(let command) = run.value, !command.isNull else {
                diagnostics.error("invalid-run", "'run' is the shell command to run, as a string", at: run.value.range)
                return nil
            }
            let inputs = body["inputs"].map { mappingEntries($0, what: "'inputs'", namesAreIdentifiers: true) } ?? []
            let outputs = body["outputs"].map { decodeOutputs($0) } ?? []
            action = .shell(command: command, inputs: inputs, outputs: outputs)
        case (let uses?, _?):
            diagnostics.error("conflicting-keys", "step '\(id)' has both 'uses' and 'run'; a step either runs an op or a command", at: uses.key.range)
            return nil
        case (nil, nil):
            diagnostics.error("missing-key", "step '\(id)' needs 'uses:' (an op) or 'run:' (a command)", at: entry.key.range)
            return nil
        }

        var step = StepDefinition(
            id: id,
            range: entry.key.range,
            description: body["description"].flatMap { string($0, what: "a description") },
            action: action,
            needs: [],
            env: []
        )
        if let needs = body["needs"] {
            let items: [YAMLNode] = if case .sequence(let sequence) = needs { sequence.items } else { [needs] }
            for item in items {
                if let name = string(item, what: "a step id in 'needs'") { step.needs.append((name, item.range)) }
            }
        }
        if let condition = body["if"] {
            if case .scalar(let scalar) = condition, !scalar.isNull {
                step.condition = scalar
            } else {
                diagnostics.error("invalid-if", "'if' is an expression that is true or false", at: condition.range)
            }
        }
        if let matrix = body["matrix"] {
            if case .mapping(let mapping) = matrix, !mapping.entries.isEmpty {
                step.matrix = mapping
            } else {
                diagnostics.error("invalid-matrix", "'matrix' is a mapping of axis names to lists of values", at: matrix.range)
            }
        }
        if let resources = body["resources"] {
            if case .mapping(let mapping) = resources {
                checkKeys(mapping, allowed: ResourceRequest.keys, in: "'resources'")
                step.resources = mapping
            } else {
                diagnostics.error("expected-mapping", "'resources' is a mapping (cpu, memory, gpu, labels)", at: resources.range)
            }
        }
        step.retry = body["retry"]
        if let timeout = body["timeout"] {
            if case .scalar(let scalar) = timeout { step.timeout = scalar } else {
                diagnostics.error("invalid-duration", "'timeout' is a duration such as '30m'", at: timeout.range)
            }
        }
        if let cache = body["cache"] {
            if case .scalar(let scalar) = cache { step.cache = scalar } else {
                diagnostics.error("type-mismatch", "'cache' is true or false", at: cache.range)
            }
        }
        if let env = body["env"] {
            step.env = mappingEntries(env, what: "'env'", namesAreIdentifiers: false)
            for entry in step.env where !Naming.isIdentifier(entry.key.text) {
                diagnostics.error("invalid-name", "'\(entry.key.text)' is not a valid environment variable name", at: entry.key.range)
            }
        }
        return step
    }

    private mutating func decodeOutputs(_ node: YAMLNode) -> [OutputDeclaration] {
        var outputs: [OutputDeclaration] = []
        for entry in mappingEntries(node, what: "'outputs'", namesAreIdentifiers: true) {
            var typeNode = entry.value
            var path: String?
            if case .mapping(let mapping) = entry.value {
                checkKeys(mapping, allowed: ["type", "path"], in: "an output")
                guard let type = mapping["type"] else {
                    diagnostics.error("missing-key", "output '\(entry.key.text)' needs a 'type'", at: entry.key.range)
                    continue
                }
                typeNode = type
                if let pathNode = mapping["path"], let text = string(pathNode, what: "a path") {
                    if let problem = Self.relativePathProblem(text) {
                        diagnostics.error("invalid-path", "output path '\(text)' \(problem)", at: pathNode.range)
                    }
                    // Kept even when invalid (no plan is made then), so no "never written" warning follows.
                    path = text
                }
            }
            guard let typeName = string(typeNode, what: "an artifact type") else { continue }
            guard let type = ArtifactType(rawValue: typeName) else {
                let names = ArtifactType.allCases.map(\.rawValue)
                diagnostics.error(
                    "unknown-type",
                    "unknown artifact type '\(typeName)'\(Suggestion.didYouMean(typeName, in: names)); the types are \(names.joined(separator: ", "))",
                    at: typeNode.range
                )
                // The name stays declared, so that the command's uses of it are not errors too.
                outputs.append(OutputDeclaration(name: entry.key.text, range: entry.key.range, type: .file, path: path))
                continue
            }
            outputs.append(OutputDeclaration(name: entry.key.text, range: entry.key.range, type: type, path: path))
        }
        return outputs
    }

    /// Why a path given in a pipeline file cannot be used, or nil when it is a plain relative path.
    static func relativePathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") || path.hasPrefix("~") { return "must be relative to the step's working folder" }
        if path.split(separator: "/").contains("..") { return "must not leave the step's working folder ('..')" }
        if path.contains("\0") { return "contains a NUL byte" }
        return nil
    }

    // MARK: Helpers

    private mutating func mappingEntries(_ node: YAMLNode, what: String, namesAreIdentifiers: Bool) -> [YAMLMapping.Entry] {
        if node.isNullScalar { return [] }
        guard case .mapping(let mapping) = node else {
            diagnostics.error("expected-mapping", "\(what) is a mapping, not \(node.kindDescription)", at: node.range)
            return []
        }
        guard namesAreIdentifiers else { return mapping.entries }
        return mapping.entries.filter { checkIdentifier($0.key, what: "name") }
    }

    mutating func checkKeys(_ mapping: YAMLMapping, allowed: [String], in context: String) {
        for entry in mapping.entries where !allowed.contains(entry.key.text) {
            let suggestion = Suggestion.closest(to: entry.key.text, in: allowed)
            let hint = suggestion.map { "; did you mean '\($0)'?" } ?? "; the keys of \(context) are \(allowed.joined(separator: ", "))"
            diagnostics.error("unknown-key", "unknown key '\(entry.key.text)' in \(context)\(hint)", at: entry.key.range)
        }
    }

    private mutating func checkIdentifier(_ key: YAMLScalar, what: String) -> Bool {
        guard Naming.isIdentifier(key.text) else {
            let suggestion = Naming.identifierSuggestion(for: key.text).map { " (e.g. '\($0)')" } ?? ""
            diagnostics.error(
                "invalid-name",
                "'\(key.text)' is not a valid \(what): use letters, digits and '_', starting with a letter or '_', at most 64 characters\(suggestion); a '-' would read as subtraction in expressions",
                at: key.range
            )
            return false
        }
        return true
    }

    private mutating func string(_ node: YAMLNode, what: String) -> String? {
        guard case .scalar(let scalar) = node, !scalar.isNull else {
            diagnostics.error("type-mismatch", "expected \(what), found \(node.kindDescription)", at: node.range)
            return nil
        }
        return scalar.text
    }

    /// A value written directly in YAML with no expressions: a scalar or a list of them.
    mutating func staticValue(_ node: YAMLNode) -> Value? {
        switch node {
        case .scalar(let scalar):
            if scalar.text.contains("${{") {
                diagnostics.error("expression-not-allowed", "expressions are not allowed here; write the value itself", at: scalar.range)
                return nil
            }
            do {
                return try ScalarTyping.value(of: scalar)
            } catch {
                diagnostics.error(error.code, error.message(for: scalar.text), at: scalar.range)
                return nil
            }
        case .sequence(let sequence):
            var items: [Value] = []
            for item in sequence.items {
                guard let value = staticValue(item) else { return nil }
                items.append(value)
            }
            return .list(items)
        case .mapping:
            diagnostics.error("type-mismatch", "expected a value or a list, found a mapping", at: node.range)
            return nil
        }
    }
}

extension YAMLNode {
    var isNullScalar: Bool {
        if case .scalar(let scalar) = self { scalar.isNull } else { false }
    }
}

extension ParamDeclaration {
    /// The declaration marked as having had an error.
    fileprivate var invalid: ParamDeclaration {
        var copy = self
        copy.isValid = false
        return copy
    }
}
