/// Models from the market as step inputs: `${{ market.NAME@VERSION }}` (or `@ALIAS`, or `NAME`
/// alone for `@latest`), written as a whole value.
///
/// The compiler reads no store: the caller finds the references in the file with
/// ``references(in:)``, resolves each to a version and the digest of its model file, and hands
/// the results to ``PipelineCompiler/marketModels``. Each model becomes a node of the plan,
/// `market:NAME@VERSION`, that gives the pinned file as its `model` output, so every step that
/// uses it depends on it and its digest is part of their keys.
public enum MarketModels {
    /// The op of a market node.
    public static let op = "market/model"

    /// A reference resolved: the exact version and the sha256 of its model file.
    public struct Pin: Sendable, Hashable {
        /// `NAME@VERSION`.
        public var reference: String
        public var sha256: String

        public init(reference: String, sha256: String) {
            self.reference = reference
            self.sha256 = sha256
        }

        public var nodeID: String { "market:\(reference)" }
    }

    public enum Resolution: Sendable, Hashable {
        case pinned(Pin)
        /// Why the reference does not name a model the market has.
        case failed(String)
    }

    /// Every reference written as `${{ market.REF }}` in the text, as written, in order.
    public static func references(in text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${{") {
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "}}") else { break }
            if let reference = reference(inExpression: rest[..<close.lowerBound]), !found.contains(reference) {
                found.append(reference)
            }
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// The reference when the whole value is one `${{ market.REF }}`.
    static func wholeReference(_ text: String) -> String? {
        let trimmed = text.trimmingWhitespace
        guard trimmed.hasPrefix("${{"), trimmed.hasSuffix("}}"), trimmed.count > 5 else { return nil }
        let inner = trimmed.dropFirst(3).dropLast(2)
        guard !inner.contains("}}"), !inner.contains("${{") else { return nil }
        return reference(inExpression: inner)
    }

    private static func reference(inExpression inner: Substring) -> String? {
        let expression = String(inner).trimmingWhitespace
        guard expression.hasPrefix("market."), expression.count > 7 else { return nil }
        let reference = String(expression.dropFirst(7))
        guard !reference.contains(where: { $0.isWhitespace }) else { return nil }
        return reference
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }
}
