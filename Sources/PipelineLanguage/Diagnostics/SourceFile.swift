/// A position in a source file: 1-based line and column, the column counted in Unicode scalars.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static let start = SourceLocation(line: 1, column: 1)

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// A span on one line of a source file, for underlining what a diagnostic is about.
public struct SourceRange: Hashable, Sendable {
    public var start: SourceLocation
    /// The span's length in Unicode scalars; at least 1.
    public var length: Int

    public init(_ start: SourceLocation, length: Int = 1) {
        self.start = start
        self.length = max(1, length)
    }
}

/// The text of a pipeline file and the name it is reported under.
public struct SourceFile: Sendable {
    /// The path as the user gave it, used verbatim in diagnostics.
    public let path: String
    public let text: String
    /// The original bytes, for the content digest that enters the plan.
    public let bytes: [UInt8]
    /// The UTF-8 offset at which each line starts.
    private let lineStarts: [Int]

    public init(path: String, text: String) {
        self.init(path: path, text: text, bytes: Array(text.utf8))
    }

    init(path: String, text: String, bytes: [UInt8]) {
        self.path = path
        self.text = text
        self.bytes = bytes
        var starts = [0]
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            starts.append(offset + 1)
        }
        self.lineStarts = starts
    }

    /// The number of lines in the file.
    public var lineCount: Int { lineStarts.count }

    /// The text of a 1-based line without its line terminator, or nil past the end.
    public func line(_ number: Int) -> Substring? {
        guard number >= 1, number <= lineStarts.count else { return nil }
        let utf8 = text.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: lineStarts[number - 1])
        let end = number < lineStarts.count ? utf8.index(utf8.startIndex, offsetBy: lineStarts[number] - 1) : utf8.endIndex
        var line = text[start..<end]
        if line.hasSuffix("\r") { line = line.dropLast() }
        return line
    }
}
