/// One finding of the compiler about a pipeline file: what is wrong, where, and what to do.
public struct Diagnostic: Error, Hashable, Sendable {
    public enum Severity: String, Sendable, Comparable {
        case error
        case warning
        case note

        private var rank: Int {
            switch self {
            case .error: 0
            case .warning: 1
            case .note: 2
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// A secondary location that explains the main one ("first defined here").
    public struct Note: Hashable, Sendable {
        public var message: String
        public var range: SourceRange?

        public init(_ message: String, at range: SourceRange? = nil) {
            self.message = message
            self.range = range
        }
    }

    public var severity: Severity
    /// A stable kebab-case identifier of the rule, for tools (`unknown-step`, `cycle`).
    public var code: String
    public var message: String
    /// Where the problem is; nil for problems of the file as a whole (it cannot be read).
    public var range: SourceRange?
    public var notes: [Note]

    public init(
        _ severity: Severity,
        code: String,
        _ message: String,
        at range: SourceRange?,
        notes: [Note] = []
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.range = range
        self.notes = notes
    }

    public static func error(_ code: String, _ message: String, at range: SourceRange?, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.error, code: code, message, at: range, notes: notes)
    }

    public static func warning(_ code: String, _ message: String, at range: SourceRange?, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.warning, code: code, message, at: range, notes: notes)
    }
}

/// Collects diagnostics while the compiler walks a file, dropping exact repeats.
///
/// A step fanned out by a matrix is checked once per instance; the same mistake is reported once.
struct DiagnosticCollector {
    private(set) var diagnostics: [Diagnostic] = []
    private var seen: Set<Diagnostic> = []

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    mutating func report(_ diagnostic: Diagnostic) {
        guard seen.insert(diagnostic).inserted else { return }
        diagnostics.append(diagnostic)
    }

    mutating func error(_ code: String, _ message: String, at range: SourceRange?, notes: [Diagnostic.Note] = []) {
        report(.error(code, message, at: range, notes: notes))
    }

    mutating func warning(_ code: String, _ message: String, at range: SourceRange?, notes: [Diagnostic.Note] = []) {
        report(.warning(code, message, at: range, notes: notes))
    }

    /// The diagnostics in file order, errors before warnings at the same place.
    var sorted: [Diagnostic] {
        diagnostics.enumerated().sorted { lhs, rhs in
            let left = lhs.element.range?.start ?? .start
            let right = rhs.element.range?.start ?? .start
            if left != right { return left < right }
            if lhs.element.severity != rhs.element.severity { return lhs.element.severity < rhs.element.severity }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}
