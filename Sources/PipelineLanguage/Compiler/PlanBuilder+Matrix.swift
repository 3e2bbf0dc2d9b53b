/// Matrix expansion: axes from literals or parameters, the cross product in axis order, then `exclude` and `include`.
extension PlanBuilder {
    mutating func expandMatrix(_ step: StepDefinition) -> [[(axis: String, value: Value)]]? {
        guard let matrix = step.matrix else { return nil }
        let scope = ExpressionScope(params: params, matrix: nil, steps: [:], stepOrder: definition.steps.map(\.id), currentStep: step.id)
        var axes: [(name: String, values: [Value])] = []
        for entry in matrix.entries where entry.key.text != "include" && entry.key.text != "exclude" {
            guard Naming.isIdentifier(entry.key.text) else {
                diagnostics.error("invalid-name", "'\(entry.key.text)' is not a valid matrix axis name: use letters, digits and '_', starting with a letter or '_', at most 64 characters", at: entry.key.range)
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
    mutating func matrixRules(
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
}
