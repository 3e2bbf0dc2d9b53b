/// A pipeline file after its structure is checked, before expressions are evaluated.
///
/// Fields that may hold `${{ }}` expressions stay YAML nodes here: their values depend on the
/// parameters and on the matrix instance, and are worked out while the plan is built.
struct PipelineDefinition {
    var name: String
    var description: String?
    var params: [ParamDeclaration]
    var schedules: [(schedule: CronSchedule, range: SourceRange)]
    var steps: [StepDefinition]
}

struct ParamDeclaration {
    var name: String
    var range: SourceRange
    var type: ValueType
    var defaultValue: Value?
    var minimum: Double?
    var maximum: Double?
    var choices: [Value]?
    var description: String?
    /// False when the declaration had an error: the name still resolves, so that its uses are not
    /// reported a second time.
    var isValid = true
}

struct StepDefinition {
    enum Action {
        case op(name: String, range: SourceRange, arguments: [YAMLMapping.Entry], withRange: SourceRange?)
        case shell(command: YAMLScalar, inputs: [YAMLMapping.Entry], outputs: [OutputDeclaration])
    }

    var id: String
    var range: SourceRange
    var description: String?
    var action: Action
    var needs: [(id: String, range: SourceRange)]
    var condition: YAMLScalar?
    var matrix: YAMLMapping?
    var resources: YAMLMapping?
    var retry: YAMLNode?
    var timeout: YAMLScalar?
    var cache: YAMLScalar?
    var env: [YAMLMapping.Entry]
}

/// An output that a `run:` step declares: its name, type and, optionally, where the command writes it.
struct OutputDeclaration {
    var name: String
    var range: SourceRange
    var type: ArtifactType
    var path: String?
}

/// Names of steps, params, outputs and matrix axes: they appear in expressions, where `-` would
/// read as subtraction, so they are identifiers.
enum Naming {
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64 else { return false }
        let isLetter = { (s: Unicode.Scalar) in s == "_" || ("a"..."z").contains(s) || ("A"..."Z").contains(s) }
        return isLetter(first) && name.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }

    /// A pipeline's name: lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    static func isPipelineName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 100 else { return false }
        let allowed = { (s: Unicode.Scalar) in ("a"..."z").contains(s) || ("0"..."9").contains(s) }
        return allowed(first) && name.unicodeScalars.allSatisfy { allowed($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// The nearest valid identifier, for suggestions: `train-model` becomes `train_model`.
    static func identifierSuggestion(for name: String) -> String? {
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            let ok = scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            scalars.append(ok ? scalar : "_")
        }
        var suggestion = String(scalars)
        if let first = suggestion.first, first.isNumber { suggestion = "_" + suggestion }
        return isIdentifier(suggestion) ? suggestion : nil
    }
}
