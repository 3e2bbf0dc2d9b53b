import Yams

/// Reads YAML text into a ``YAMLNode`` tree, turning every failure into a diagnostic.
///
/// Whatever the bytes, loading ends in a tree or in diagnostics: invalid UTF-8, syntax errors,
/// duplicate keys, undefined aliases, nesting past libyaml's limit of 1,000 levels, and alias
/// expansions that would blow a small file up into millions of nodes ("billion laughs") are all
/// reported with their position.
public struct YAMLLoader: Sendable {
    /// Files larger than this are refused before parsing.
    public var maximumFileBytes = 16 * 1024 * 1024
    /// The most nodes a document may have once its aliases are expanded.
    public var maximumNodes = 8_000_000
    /// The most nodes that alias expansion may add to a document.
    public var maximumAliasExpansion = 100_000

    public init() {}

    /// Loads the single document of a file.
    ///
    /// - Returns: the root node, or nil with at least one error in `diagnostics`.
    func load(_ source: SourceFile, diagnostics: inout DiagnosticCollector) -> YAMLNode? {
        guard source.bytes.count <= maximumFileBytes else {
            diagnostics.error(
                "file-too-large",
                "the file is \(source.bytes.count) bytes; pipeline files are limited to \(maximumFileBytes) bytes",
                at: nil
            )
            return nil
        }
        let root: Node?
        let parser: Parser
        do {
            parser = try Parser(yaml: source.text)
            root = try parser.singleRoot()
        } catch let error as YamlError {
            diagnostics.report(Self.diagnostic(for: error, in: source))
            return nil
        } catch {
            diagnostics.error("yaml-syntax", "the file could not be read as YAML: \(error)", at: nil)
            return nil
        }
        guard let root else {
            diagnostics.error("empty-file", "the file is empty; a pipeline starts with 'version: 1'", at: SourceRange(.start))
            return nil
        }
        var converter = Converter(loader: self)
        let node = withExtendedLifetime(parser) { converter.convert(root) }
        if let failure = converter.failure {
            diagnostics.report(failure)
            return nil
        }
        return node
    }

    /// Decodes file bytes as UTF-8, or reports where they stop being UTF-8.
    public static func decode(path: String, bytes: [UInt8]) -> Result<SourceFile, Diagnostic> {
        var bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if let text = String(validating: bytes, as: UTF8.self) {
            return .success(SourceFile(path: path, text: text, bytes: bytes))
        }
        let (offset, line, column) = firstInvalidUTF8(in: bytes)
        return .failure(
            .error(
                "invalid-utf8",
                "the file is not valid UTF-8 (byte \(offset) is not part of a UTF-8 character); save it as UTF-8",
                at: SourceRange(SourceLocation(line: line, column: column))
            )
        )
    }

    private static func firstInvalidUTF8(in bytes: [UInt8]) -> (offset: Int, line: Int, column: Int) {
        var line = 1
        var column = 1
        var offset = 0
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput, .error:
                return (offset, line, column)
            }
        }
    }

    private static func diagnostic(for error: YamlError, in source: SourceFile) -> Diagnostic {
        func range(_ mark: Mark) -> SourceRange {
            SourceRange(SourceLocation(line: max(1, mark.line), column: max(1, mark.column)))
        }
        func syntax(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> Diagnostic {
            var notes: [Diagnostic.Note] = []
            if let context, context.mark.line != mark.line || context.mark.column != mark.column {
                notes.append(.init(context.text, at: range(context.mark)))
            }
            let message = context.map { "\(problem) (\($0.text))" } ?? problem
            return .error("yaml-syntax", "invalid YAML: \(message)", at: range(mark), notes: notes)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            if problem.contains("Maximum nesting level") || context?.text.contains("Maximum nesting level") == true {
                return .error("yaml-too-deep", "the YAML is nested more than 1,000 levels deep", at: range(mark))
            }
            return syntax(context, problem, mark)
        case .reader(let problem, let offset, _, _):
            let location = offset.map { Self.location(ofCharacterOffset: $0, in: source.text) } ?? SourceLocation.start
            return .error("yaml-syntax", "invalid YAML input: \(problem)", at: SourceRange(location))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? ""
            let first = range(context.mark)
            let second = secondOccurrence(of: key, after: context.mark, in: source)
            return .error(
                "duplicate-key",
                "duplicate key '\(key)' in a mapping; each key may appear once",
                at: second.map { SourceRange($0, length: key.unicodeScalars.count) } ?? first,
                notes: second == nil ? [] : [.init("'\(key)' first appears here", at: first)]
            )
        default:
            return .error("yaml-syntax", "the file could not be read as YAML: \(error)", at: nil)
        }
    }

    private static func location(ofCharacterOffset offset: Int, in text: String) -> SourceLocation {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return SourceLocation(line: line, column: column)
    }

    /// Finds the repeated key a duplicate-key error is about: the next `key:` at the first one's column
    /// in a block mapping, or later on the same line in a flow mapping.
    private static func secondOccurrence(of key: String, after mark: Mark, in source: SourceFile) -> SourceLocation? {
        guard mark.line >= 1 else { return nil }
        if let line = source.line(mark.line) {
            let scalars = Array(line.unicodeScalars)
            let start = min(scalars.count, mark.column - 1 + key.unicodeScalars.count)
            let rest = String(String.UnicodeScalarView(scalars[start...]))
            if let found = rest.range(of: key + ":") ?? rest.range(of: key + " :") {
                let column = start + rest.unicodeScalars.distance(from: rest.unicodeScalars.startIndex, to: found.lowerBound) + 1
                return SourceLocation(line: mark.line, column: column)
            }
        }
        var number = mark.line + 1
        while let line = source.line(number) {
            let indent = line.unicodeScalars.prefix { $0 == " " }.count
            if indent + 1 < mark.column, !line.allSatisfy({ $0 == " " }), !line.drop { $0 == " " }.hasPrefix("#") {
                return nil
            }
            if indent + 1 == mark.column {
                let content = line.dropFirst(indent)
                for candidate in [key, "\"\(key)\"", "'\(key)'"] where content.hasPrefix(candidate) {
                    let after = content.dropFirst(candidate.count).drop { $0 == " " }
                    if after.hasPrefix(":") { return SourceLocation(line: number, column: mark.column) }
                }
            }
            number += 1
        }
        return nil
    }
}

/// Turns Yams nodes into ``YAMLNode``s, applying merge keys and the size limits.
private struct Converter {
    let loader: YAMLLoader
    var nodeCount = 0
    var aliasExpansion = 0
    var aliasDepth = 0
    var definedAnchors: Set<ObjectIdentifier> = []
    var failure: Diagnostic?

    init(loader: YAMLLoader) {
        self.loader = loader
    }

    mutating func convert(_ node: Node) -> YAMLNode {
        guard failure == nil else { return placeholder(node) }
        let location = Self.location(node.mark)
        // Yams hands an alias back as a copy of the anchored node; the anchor object tells them apart.
        var isAlias = false
        if let anchor = node.anchor {
            isAlias = !definedAnchors.insert(ObjectIdentifier(anchor)).inserted
        }
        if isAlias { aliasDepth += 1 }
        defer { if isAlias { aliasDepth -= 1 } }

        nodeCount += 1
        if aliasDepth > 0 { aliasExpansion += 1 }
        if aliasExpansion > loader.maximumAliasExpansion {
            failure = .error(
                "yaml-alias-expansion",
                "expanding the YAML aliases would add more than \(loader.maximumAliasExpansion) nodes; use fewer nested aliases",
                at: SourceRange(location)
            )
            return placeholder(node)
        }
        if nodeCount > loader.maximumNodes {
            failure = .error(
                "yaml-too-large",
                "the document has more than \(loader.maximumNodes) nodes",
                at: SourceRange(location)
            )
            return placeholder(node)
        }

        switch node {
        case .scalar(let scalar):
            // Tags are not read: Yams resolves them lazily on the shared tag object, so an implicit
            // key's tag reads as `!!str` once the key has been hashed. Quoting is the way to a string.
            let style: YAMLScalar.Style = switch scalar.style {
            case .singleQuoted: .singleQuoted
            case .doubleQuoted: .doubleQuoted
            case .literal: .literal
            case .folded: .folded
            case .plain, .any: .plain
            }
            return .scalar(YAMLScalar(scalar.string, style: style, at: location))
        case .sequence(let sequence):
            var items: [YAMLNode] = []
            items.reserveCapacity(sequence.count)
            for item in sequence {
                items.append(convert(item))
            }
            return .sequence(YAMLSequence(items: items, location: location))
        case .mapping(let mapping):
            var entries: [YAMLMapping.Entry] = []
            entries.reserveCapacity(mapping.count)
            var merged: [YAMLMapping.Entry] = []
            for (key, value) in mapping {
                let convertedValue = convert(value)
                guard case .scalar(let keyScalar) = convert(key) else {
                    if failure == nil {
                        failure = .error(
                            "yaml-complex-key",
                            "mapping keys must be plain names, not lists or mappings",
                            at: SourceRange(Self.location(key.mark))
                        )
                    }
                    continue
                }
                if keyScalar.isPlain, keyScalar.text == "<<" {
                    merged += mergeEntries(from: convertedValue)
                } else {
                    entries.append(.init(key: keyScalar, value: convertedValue))
                }
            }
            // Merge keys (`<<: *defaults`) add the entries the mapping does not set itself.
            for entry in merged where !entries.contains(where: { $0.key.text == entry.key.text }) {
                entries.append(entry)
            }
            return .mapping(YAMLMapping(entries: entries, location: location))
        case .alias:
            return placeholder(node)
        }
    }

    private mutating func mergeEntries(from node: YAMLNode) -> [YAMLMapping.Entry] {
        switch node {
        case .mapping(let mapping):
            return mapping.entries
        case .sequence(let sequence):
            var entries: [YAMLMapping.Entry] = []
            for case .mapping(let mapping) in sequence.items {
                for entry in mapping.entries where !entries.contains(where: { $0.key.text == entry.key.text }) {
                    entries.append(entry)
                }
            }
            return entries
        case .scalar(let scalar):
            if failure == nil {
                failure = .error("yaml-merge", "a merge key '<<' takes a mapping or a list of mappings", at: scalar.range)
            }
            return []
        }
    }

    private func placeholder(_ node: Node) -> YAMLNode {
        .scalar(YAMLScalar("", at: Self.location(node.mark)))
    }

    private static func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return .start }
        return SourceLocation(line: max(1, mark.line), column: max(1, mark.column))
    }
}
