/// Writes diagnostics the way swiftc does (`file:line:column: error: message`, the line, a caret),
/// or as JSON for tools.
public enum DiagnosticRenderer {
    /// Human-readable text: one block per diagnostic, each ending in a newline.
    public static func text(_ diagnostics: [Diagnostic], in source: SourceFile) -> String {
        var output = ""
        for diagnostic in diagnostics {
            appendBlock(
                severity: diagnostic.severity.rawValue,
                message: diagnostic.message,
                range: diagnostic.range,
                source: source,
                to: &output
            )
            for note in diagnostic.notes {
                appendBlock(severity: "note", message: note.message, range: note.range, source: source, to: &output)
            }
        }
        return output
    }

    /// `"2 errors, 1 warning"`, or nil when there is nothing to count.
    public static func summary(_ diagnostics: [Diagnostic]) -> String? {
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count { $0.severity == .warning }
        var parts: [String] = []
        if errors > 0 { parts.append(errors == 1 ? "1 error" : "\(errors) errors") }
        if warnings > 0 { parts.append(warnings == 1 ? "1 warning" : "\(warnings) warnings") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// One JSON object per diagnostic, with the file, 1-based line and column, and notes.
    public static func json(_ diagnostic: Diagnostic, in source: SourceFile) -> JSONValue {
        var object: [String: JSONValue] = [
            "file": .string(source.path),
            "severity": .string(diagnostic.severity.rawValue),
            "code": .string(diagnostic.code),
            "message": .string(diagnostic.message),
        ]
        object["line"] = diagnostic.range.map { .int($0.start.line) } ?? .null
        object["column"] = diagnostic.range.map { .int($0.start.column) } ?? .null
        object["length"] = diagnostic.range.map { .int($0.length) } ?? .null
        object["notes"] = .array(
            diagnostic.notes.map { note in
                [
                    "message": .string(note.message),
                    "line": note.range.map { .int($0.start.line) } ?? .null,
                    "column": note.range.map { .int($0.start.column) } ?? .null,
                ]
            }
        )
        return .object(object)
    }

    private static func appendBlock(
        severity: String,
        message: String,
        range: SourceRange?,
        source: SourceFile,
        to output: inout String
    ) {
        guard let range else {
            output += "\(source.path): \(severity): \(message)\n"
            return
        }
        output += "\(source.path):\(range.start.line):\(range.start.column): \(severity): \(message)\n"
        guard let line = source.line(range.start.line) else { return }
        let scalars = Array(line.unicodeScalars)
        // Very long lines (a minified file) are shown around the column only.
        let window = 200
        let caretIndex = min(max(range.start.column - 1, 0), scalars.count)
        let from = max(0, caretIndex - window / 2)
        let to = min(scalars.count, from + window)
        var shown = String(String.UnicodeScalarView(scalars[from..<to]))
        if from > 0 { shown = "..." + shown }
        if to < scalars.count { shown += "..." }
        output += shown + "\n"
        var marker = from > 0 ? "   " : ""
        for scalar in scalars[from..<min(caretIndex, to)] {
            marker.append(scalar == "\t" ? "\t" : " ")
        }
        let underline = max(0, min(range.length, max(1, to - caretIndex)) - 1)
        marker += "^" + String(repeating: "~", count: underline)
        output += marker + "\n"
    }
}
