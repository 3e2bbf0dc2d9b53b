/// A reference from an expression to one output of one plan node.
public struct ArtifactReference: Hashable, Sendable {
    /// The plan node that writes the artifact (`train[2]`, or the step id when it has no matrix).
    public var node: String
    public var output: String
    public var type: ArtifactType

    public var json: JSONValue { ["node": .string(node), "output": .string(output)] }
}

/// What the compiler knows of a step when another step refers to it.
struct StepSummary {
    var outputs: [(name: String, type: ArtifactType)]
    /// The plan node ids of the step's instances: one without a matrix, one per combination with one.
    var nodes: [String]
    var fansOut: Bool

    func outputType(_ name: String) -> ArtifactType? {
        outputs.first { $0.name == name }?.type
    }
}

/// The result of checking an expression while the plan is made.
enum AnalyzedValue {
    /// Known now.
    case constant(Value)
    /// One artifact, or the list of a fanned-out step's artifacts.
    case artifacts(ArtifactType, [ArtifactReference], isList: Bool)
    /// Known only when the run gets there (it reads metrics or the status of upstream steps); the
    /// expression is kept with everything static folded into literals.
    case runtime(ValueType, Expression)
    /// The path of a `run:` step's declared input or output, filled in when the command runs.
    case path(Expression)

    var type: ValueType {
        switch self {
        case .constant(let value): value.type
        case .artifacts(let type, _, let isList): isList ? .list(.artifact(type)) : .artifact(type)
        case .runtime(let type, _): type
        case .path: .string
        }
    }
}

/// What expressions may see and do at one place in a pipeline file.
struct ExpressionScope {
    var params: [String: Value]
    var matrix: [String: Value]?
    var steps: [String: StepSummary]
    var stepOrder: [String]
    /// The step whose field is being compiled; it may not refer to itself.
    var currentStep: String?
    /// A `run:` step's declared inputs and outputs, visible inside its command only.
    var shellInputs: [String]?
    var shellOutputs: [String]?
    /// Whether the value may depend on metrics or step status (true for `if:` and op arguments).
    var allowsRuntime = false
    var allowsStatusFunctions = false
}

/// Checks and folds an expression against a scope: names must exist, types must fit, and whatever
/// is known at plan time is computed now.
struct ExpressionAnalyzer {
    let scope: ExpressionScope
    private(set) var usedParams: Set<String> = []
    private(set) var referencedSteps: [String] = []
    private(set) var usedShellInputs: Set<String> = []
    private(set) var usedShellOutputs: Set<String> = []
    private(set) var usedMatrixAxes: Set<String> = []
    /// The artifacts whose contents a run-time value reads (the metrics behind `x.accuracy`).
    private(set) var runtimeReferences: [ArtifactReference] = []

    init(scope: ExpressionScope) {
        self.scope = scope
    }

    mutating func analyze(_ expression: Expression) throws(ExpressionError) -> AnalyzedValue {
        switch expression.kind {
        case .literal(let value):
            return .constant(value)
        case .list(let items):
            var values: [Value] = []
            for item in items {
                let analyzed = try analyze(item)
                guard case .constant(let value) = analyzed else {
                    throw ExpressionError("a list literal may hold only values known when the plan is made", offset: item.offset, length: item.length)
                }
                values.append(value)
            }
            return .constant(.list(values))
        case .identifier(let name):
            return try resolve(path: [name], expression: expression, partial: true)
        case .member:
            guard let path = expression.path else {
                return try memberOfValue(expression)
            }
            return try resolve(path: path, expression: expression, partial: false)
        case .index(let base, let index):
            return try subscriptValue(base: base, index: index, whole: expression)
        case .unary(let op, let operand):
            return try unary(op, operand, whole: expression)
        case .binary(let op, let lhs, let rhs):
            return try binary(op, lhs, rhs, whole: expression)
        case .call(let name, let arguments):
            return try call(name, arguments, whole: expression)
        }
    }

    // MARK: Names

    private static let roots = ["params", "steps", "matrix", "inputs", "outputs"]

    private mutating func resolve(path: [String], expression: Expression, partial: Bool) throws(ExpressionError) -> AnalyzedValue {
        let error = { (message: String) in ExpressionError(message, offset: expression.offset, length: expression.length) }
        let root = path[0]
        switch root {
        case "params":
            guard path.count >= 2 else { throw error("'params' needs a parameter name: params.NAME") }
            guard let value = scope.params[path[1]] else {
                throw error("unknown parameter '\(path[1])'\(Suggestion.didYouMean(path[1], in: scope.params.keys))")
            }
            usedParams.insert(path[1])
            return try members(of: .constant(value), path: Array(path.dropFirst(2)), expression: expression)
        case "matrix":
            guard let matrix = scope.matrix else {
                throw error("'matrix' is available only in a step that has a 'matrix:'")
            }
            guard path.count >= 2 else { throw error("'matrix' needs an axis name: matrix.AXIS") }
            guard let value = matrix[path[1]] else {
                throw error("unknown matrix axis '\(path[1])'\(Suggestion.didYouMean(path[1], in: matrix.keys))")
            }
            usedMatrixAxes.insert(path[1])
            return try members(of: .constant(value), path: Array(path.dropFirst(2)), expression: expression)
        case "steps":
            return try stepReference(path: path, expression: expression)
        case "inputs", "outputs":
            let names = root == "inputs" ? scope.shellInputs : scope.shellOutputs
            guard let names else {
                throw error(
                    "'\(root).NAME' is the path of a declared \(root == "inputs" ? "input" : "output") and is available only in the 'run:' command of a step"
                )
            }
            guard path.count == 2 else {
                throw error("write '\(root).NAME': the path of the \(root == "inputs" ? "input" : "output") named NAME")
            }
            guard names.contains(path[1]) else {
                throw error("the step declares no \(root == "inputs" ? "input" : "output") '\(path[1])'\(Suggestion.didYouMean(path[1], in: names))")
            }
            if root == "inputs" { usedShellInputs.insert(path[1]) } else { usedShellOutputs.insert(path[1]) }
            return .path(expression)
        default:
            throw error("unknown name '\(root)'\(Suggestion.didYouMean(root, in: Self.roots)); expressions start from params, steps, matrix, inputs or outputs")
        }
    }

    private mutating func stepReference(path: [String], expression: Expression) throws(ExpressionError) -> AnalyzedValue {
        let error = { (message: String) in ExpressionError(message, offset: expression.offset, length: expression.length) }
        guard path.count >= 4, path[2] == "outputs" else {
            throw error("a step reference reads 'steps.STEP.outputs.NAME'")
        }
        let stepID = path[1]
        guard let step = scope.steps[stepID] else {
            if scope.stepOrder.contains(stepID) {
                throw error("step outputs cannot be used here: this value must be known when the plan is made")
            }
            throw error("unknown step '\(stepID)'\(Suggestion.didYouMean(stepID, in: scope.stepOrder))")
        }
        if stepID == scope.currentStep {
            throw error("step '\(stepID)' cannot use its own outputs")
        }
        guard let type = step.outputType(path[3]) else {
            let names = step.outputs.map(\.name)
            let known = names.isEmpty ? "it has no outputs" : "its outputs are " + names.map { "'\($0)'" }.joined(separator: ", ")
            throw error("step '\(stepID)' has no output '\(path[3])'\(Suggestion.didYouMean(path[3], in: names)); \(known)")
        }
        referencedSteps.append(stepID)
        let references = step.nodes.map { ArtifactReference(node: $0, output: path[3], type: type) }
        let artifacts = AnalyzedValue.artifacts(type, references, isList: step.fansOut)
        return try members(of: artifacts, path: Array(path.dropFirst(4)), expression: expression)
    }

    /// Applies `.field` accesses after a resolved root: metrics fields, and nothing else.
    private mutating func members(of value: AnalyzedValue, path: [String], expression: Expression) throws(ExpressionError) -> AnalyzedValue {
        guard let field = path.first else { return value }
        let error = { (message: String) in ExpressionError(message, offset: expression.offset, length: expression.length) }
        switch value {
        case .artifacts(.metrics, let references, false):
            guard path.count == 1 else { throw error("a metric is a number; it has no field '\(path[1])'") }
            guard scope.allowsRuntime else {
                throw error("metrics are known only when the run reaches this step; a metric can be used in 'if:' and in op arguments, not here")
            }
            runtimeReferences += references
            return .runtime(.float, Self.metricExpression(references[0], field: field, like: expression))
        case .artifacts(.metrics, _, true):
            throw error("this is a list of metrics (the step fans out over a matrix); a single metric cannot be read from it")
        case .artifacts(let type, _, _):
            throw error("a \(type.rawValue) has no field '\(field)'; only metrics have fields")
        default:
            throw error("\(value.type.withArticle) has no field '\(field)'")
        }
    }

    /// `steps.STEP.outputs.NAME.FIELD`, or `steps.STEP.outputs.NAME[I].FIELD` for one instance of a
    /// fanned-out step: the run-time form of a metric, with any index already computed.
    private static func metricExpression(_ reference: ArtifactReference, field: String, like original: Expression) -> Expression {
        func node(_ kind: Expression.Kind) -> Expression {
            Expression(kind, offset: original.offset, length: original.length)
        }
        var step = Substring(reference.node)
        var index: Int?
        if let open = step.firstIndex(of: "["), step.hasSuffix("]") {
            index = Int(step[step.index(after: open)..<step.index(before: step.endIndex)])
            step = step[..<open]
        }
        var base = node(.member(node(.member(node(.member(node(.identifier("steps")), String(step))), "outputs")), reference.output))
        if let index { base = node(.index(base, node(.literal(.int(index))))) }
        return node(.member(base, field))
    }

    private mutating func memberOfValue(_ expression: Expression) throws(ExpressionError) -> AnalyzedValue {
        guard case .member(let base, let name) = expression.kind else { return try analyze(expression) }
        let value = try analyze(base)
        return try members(of: value, path: [name], expression: expression)
    }

    // MARK: Operators

    private mutating func subscriptValue(base: Expression, index: Expression, whole: Expression) throws(ExpressionError) -> AnalyzedValue {
        let container = try analyze(base)
        let position = try analyze(index)
        let error = { (message: String) in ExpressionError(message, offset: whole.offset, length: whole.length) }
        switch (container, position) {
        case (.constant(.list(let items)), .constant(.int(let i))):
            guard items.indices.contains(i) else {
                throw error("index \(i) is out of range: the list has \(items.count) item\(items.count == 1 ? "" : "s")")
            }
            return .constant(items[i])
        case (.artifacts(let type, let references, true), .constant(.int(let i))):
            guard references.indices.contains(i) else {
                throw error("index \(i) is out of range: the step has \(references.count) matrix instances")
            }
            return .artifacts(type, [references[i]], isList: false)
        case (_, .constant(let value)) where value.type != .int:
            throw error("a list index must be an int, not \(value.type.withArticle)")
        default:
            throw error("only a list can be indexed, and only by an int known when the plan is made")
        }
    }

    private mutating func unary(_ op: UnaryOperator, _ operand: Expression, whole: Expression) throws(ExpressionError) -> AnalyzedValue {
        let value = try analyze(operand)
        let error = { (message: String) in ExpressionError(message, offset: whole.offset, length: whole.length) }
        switch (op, value) {
        case (.not, .constant(.bool(let b))): return .constant(.bool(!b))
        case (.negate, .constant(.int(let i))):
            guard i != .min else { throw error("integer overflow") }
            return .constant(.int(-i))
        case (.negate, .constant(.float(let f))): return .constant(.float(-f))
        case (.not, .runtime(.bool, let residual)):
            return .runtime(.bool, Expression(.unary(.not, residual), offset: whole.offset, length: whole.length))
        case (.negate, .runtime(let type, let residual)) where type.isNumeric:
            return .runtime(type, Expression(.unary(.negate, residual), offset: whole.offset, length: whole.length))
        default:
            let wanted = op == .not ? "a bool" : "a number"
            throw error("'\(op.rawValue)' needs \(wanted), not \(value.type.withArticle)")
        }
    }

    private mutating func binary(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, whole: Expression) throws(ExpressionError) -> AnalyzedValue {
        let left = try analyze(lhs)
        let right = try analyze(rhs)
        let error = { (message: String) in ExpressionError(message, offset: whole.offset, length: whole.length) }
        if left.type.isArtifact || right.type.isArtifact {
            throw error("'\(op.rawValue)' cannot be applied to \(left.type.isArtifact ? left.type.withArticle : right.type.withArticle) artifact")
        }
        if case .path = left { throw error("a file path can only be interpolated into the command") }
        if case .path = right { throw error("a file path can only be interpolated into the command") }
        let resultType = try Self.resultType(op, left.type, right.type, error: error)
        switch (left, right) {
        case (.constant(let a), .constant(let b)):
            return .constant(try ConstantFolding.apply(op, a, b, error: error))
        default:
            // `false && x` and `true || x` are decided now, whatever x turns out to be; `true && x`
            // and `false || x` are just x.
            for (known, other) in [(left, right), (right, left)] {
                guard case .constant(.bool(let value)) = known, op == .and || op == .or else { continue }
                if (op == .and) != value { return .constant(.bool(value)) }
                return other
            }
            return .runtime(resultType, Expression(.binary(op, Self.residual(left, lhs), Self.residual(right, rhs)), offset: whole.offset, length: whole.length))
        }
    }

    private static func residual(_ value: AnalyzedValue, _ original: Expression) -> Expression {
        switch value {
        case .constant(let constant): Expression(.literal(constant), offset: original.offset, length: original.length)
        case .runtime(_, let expression): expression
        default: original
        }
    }

    private static func resultType(
        _ op: BinaryOperator,
        _ a: ValueType,
        _ b: ValueType,
        error: (String) -> ExpressionError
    ) throws(ExpressionError) -> ValueType {
        switch op {
        case .and, .or:
            guard a == .bool, b == .bool else {
                throw error("'\(op.rawValue)' needs two bools, not \(a.withArticle) and \(b.withArticle)")
            }
            return .bool
        case .equal, .notEqual:
            guard a.join(b) != nil || a == .null || b == .null else {
                throw error("cannot compare \(a.withArticle) with \(b.withArticle)")
            }
            return .bool
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard (a.isNumeric && b.isNumeric) || (a == .string && b == .string) else {
                throw error("'\(op.rawValue)' compares two numbers or two strings, not \(a.withArticle) and \(b.withArticle)")
            }
            return .bool
        case .add where a == .string && b == .string:
            return .string
        case .add where a.join(b).map({ if case .list = $0 { true } else { false } }) == true:
            return a.join(b)!
        case .add, .subtract, .multiply:
            guard a.isNumeric, b.isNumeric else {
                throw error("'\(op.rawValue)' needs two numbers, not \(a.withArticle) and \(b.withArticle)")
            }
            return a == .int && b == .int ? .int : .float
        case .divide:
            guard a.isNumeric, b.isNumeric else {
                throw error("'/' needs two numbers, not \(a.withArticle) and \(b.withArticle)")
            }
            return .float
        case .remainder:
            guard a == .int, b == .int else {
                throw error("'%' needs two ints, not \(a.withArticle) and \(b.withArticle)")
            }
            return .int
        }
    }

    // MARK: Functions

    static let functions = ["always", "success", "failure", "contains", "startsWith", "endsWith", "min", "max", "abs", "round", "length", "join"]

    private mutating func call(_ name: String, _ arguments: [Expression], whole: Expression) throws(ExpressionError) -> AnalyzedValue {
        let error = { (message: String) in ExpressionError(message, offset: whole.offset, length: whole.length) }
        if ["always", "success", "failure"].contains(name) {
            guard arguments.isEmpty else { throw error("\(name)() takes no arguments") }
            guard scope.allowsStatusFunctions else {
                throw error("\(name)() tells the status of upstream steps and can be used only in 'if:'")
            }
            return .runtime(.bool, whole)
        }
        guard Self.functions.contains(name) else {
            throw error("unknown function '\(name)'\(Suggestion.didYouMean(name, in: Self.functions)); the functions are \(Self.functions.joined(separator: ", "))")
        }
        var values: [Value] = []
        for argument in arguments {
            guard case .constant(let value) = try analyze(argument) else {
                throw ExpressionError("\(name)() takes only values known when the plan is made", offset: argument.offset, length: argument.length)
            }
            values.append(value)
        }
        return .constant(try ConstantFolding.call(name, values, error: error))
    }
}
