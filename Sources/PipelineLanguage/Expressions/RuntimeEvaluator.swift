/// Evaluates what the compiler left for run time: conditions and arguments that read metrics
/// (`steps.evaluate.outputs.metrics.accuracy >= 0.9`) or upstream status (`failure()`).
///
/// The plan holds these expressions with every plan-time part already computed, so the only
/// names left are metric references, in the form the compiler writes them:
/// `steps.STEP.outputs.NAME.FIELD`, or `steps.STEP.outputs.NAME[I].FIELD` for instance `STEP[I]`.
public struct RuntimeEvaluator {
    /// The metric `field` of output `output` of node `node`; nil when the metrics file lacks it.
    public var metric: (_ node: String, _ output: String, _ field: String) throws -> Value?
    /// Whether every node this one needs succeeded (`success()`).
    public var upstreamSucceeded: Bool
    /// Whether a node this one needs failed (`failure()`).
    public var upstreamFailed: Bool

    public init(
        upstreamSucceeded: Bool = true,
        upstreamFailed: Bool = false,
        metric: @escaping (_ node: String, _ output: String, _ field: String) throws -> Value?
    ) {
        self.metric = metric
        self.upstreamSucceeded = upstreamSucceeded
        self.upstreamFailed = upstreamFailed
    }

    /// Whether an expression calls `always()`, `success()` or `failure()`: such a condition decides
    /// for itself whether its node runs after an upstream failure.
    public static func usesStatusFunctions(_ expression: Expression) -> Bool {
        switch expression.kind {
        case .call(let name, let arguments):
            ["always", "success", "failure"].contains(name) || arguments.contains(where: usesStatusFunctions)
        case .literal, .identifier: false
        case .list(let items): items.contains(where: usesStatusFunctions)
        case .member(let base, _): usesStatusFunctions(base)
        case .index(let base, let index): usesStatusFunctions(base) || usesStatusFunctions(index)
        case .unary(_, let operand): usesStatusFunctions(operand)
        case .binary(_, let lhs, let rhs): usesStatusFunctions(lhs) || usesStatusFunctions(rhs)
        }
    }

    public func evaluate(_ expression: Expression) throws -> Value {
        func failure(_ message: String) -> ExpressionError {
            ExpressionError(message, offset: expression.offset, length: expression.length)
        }
        switch expression.kind {
        case .literal(let value):
            return value
        case .list(let items):
            return .list(try items.map(evaluate))
        case .unary(let op, let operand):
            let value = try evaluate(operand)
            switch (op, value) {
            case (.not, .bool(let flag)): return .bool(!flag)
            case (.negate, .int(let number)) where number != .min: return .int(-number)
            case (.negate, .float(let number)): return .float(-number)
            default: throw failure("'\(op.rawValue)' cannot apply to \(value.type.withArticle)")
            }
        case .binary(let op, let lhs, let rhs):
            let left = try evaluate(lhs)
            if case .bool(let flag) = left, (op == .and && !flag) || (op == .or && flag) {
                return .bool(flag)
            }
            return try ConstantFolding.apply(op, left, try evaluate(rhs), error: failure)
        case .call(let name, let arguments):
            switch name {
            case "always": return .bool(true)
            case "success": return .bool(upstreamSucceeded)
            case "failure": return .bool(upstreamFailed)
            default: return try ConstantFolding.call(name, try arguments.map(evaluate), error: failure)
            }
        case .member, .identifier, .index:
            guard let (node, output, field) = Self.metricReference(expression) else {
                throw failure("'\(expression)' cannot be evaluated when the plan runs")
            }
            guard let value = try metric(node, output, field) else {
                throw failure("the metrics '\(output)' of '\(node)' have no field '\(field)'")
            }
            return value
        }
    }

    /// The node, output and field of a metric reference.
    static func metricReference(_ expression: Expression) -> (node: String, output: String, field: String)? {
        guard case .member(let base, let field) = expression.kind else { return nil }
        var outputBase = base
        var index: Int?
        if case .index(let inner, let position) = base.kind, case .literal(.int(let i)) = position.kind {
            outputBase = inner
            index = i
        }
        guard let path = outputBase.path, path.count == 4, path[0] == "steps", path[2] == "outputs" else { return nil }
        let node = index.map { "\(path[1])[\($0)]" } ?? path[1]
        return (node, path[3], field)
    }
}
