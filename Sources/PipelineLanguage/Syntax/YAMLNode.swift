/// A YAML document as the compiler sees it: mappings keep their order, and every node keeps the
/// place it was written, so each diagnostic can point at it.
public indirect enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case mapping(YAMLMapping)
    case sequence(YAMLSequence)

    public var location: SourceLocation {
        switch self {
        case .scalar(let scalar): scalar.location
        case .mapping(let mapping): mapping.location
        case .sequence(let sequence): sequence.location
        }
    }

    /// A one-word description for messages ("a mapping", "a list", "the string 'x'").
    var kindDescription: String {
        switch self {
        case .scalar(let scalar): scalar.isNull ? "an empty value" : "the value '\(scalar.text.prefix(40))'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    var range: SourceRange {
        switch self {
        case .scalar(let scalar): scalar.range
        default: SourceRange(location)
        }
    }
}

/// A scalar and how it was written: a plain scalar is typed by its text (`3` is an int), a quoted or
/// block scalar is always a string.
public struct YAMLScalar: Sendable {
    public enum Style: Sendable {
        case plain
        case singleQuoted
        case doubleQuoted
        case literal
        case folded
    }

    public var text: String
    public var style: Style
    public var location: SourceLocation

    public init(_ text: String, style: Style = .plain, at location: SourceLocation) {
        self.text = text
        self.style = style
        self.location = location
    }

    var isPlain: Bool { style == .plain }

    /// A plain empty scalar, `~` or `null`: YAML's null.
    var isNull: Bool { isPlain && (text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL") }

    /// The range the scalar covers on its first line.
    var range: SourceRange {
        var length = 0
        for scalar in text.unicodeScalars {
            if scalar == "\n" { break }
            length += 1
        }
        let quotes = (style == .singleQuoted || style == .doubleQuoted) ? 2 : 0
        return SourceRange(location, length: length + quotes)
    }

    /// The source location of the scalar that is `offset` Unicode scalars into its text.
    ///
    /// Exact for single-line plain and quoted scalars (with no escapes before the offset) and for
    /// literal block scalars; other scalars report their start.
    func location(atOffset offset: Int, in source: SourceFile?) -> SourceLocation {
        let prefix = text.unicodeScalars.prefix(offset)
        let linesBefore = prefix.count { $0 == "\n" }
        let column = prefix.count - (prefix.lastIndex(of: "\n").map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0)
        switch style {
        case .plain, .singleQuoted, .doubleQuoted:
            guard linesBefore == 0 else { return location }
            return SourceLocation(line: location.line, column: location.column + column + (isPlain ? 0 : 1))
        case .literal:
            let line = location.line + 1 + linesBefore
            guard let sourceLine = source?.line(line) else { return location }
            let indent = sourceLine.unicodeScalars.prefix { $0 == " " }.count
            return SourceLocation(line: line, column: indent + column + 1)
        case .folded:
            return location
        }
    }
}

public struct YAMLMapping: Sendable {
    public struct Entry: Sendable {
        public var key: YAMLScalar
        public var value: YAMLNode
    }

    public var entries: [Entry]
    public var location: SourceLocation

    /// The value of the first entry with this key.
    subscript(key: String) -> YAMLNode? {
        entries.first { $0.key.text == key }?.value
    }

    func entry(_ key: String) -> Entry? {
        entries.first { $0.key.text == key }
    }
}

public struct YAMLSequence: Sendable {
    public var items: [YAMLNode]
    public var location: SourceLocation
}
