internal import CYAML

/// Reads YAML text into a ``YAMLNode`` tree, turning every failure into a diagnostic.
///
/// libyaml delivers the document as a stream of events; the loader composes them into nodes with an
/// explicit stack, so that whatever the bytes, loading ends in a tree or in diagnostics: invalid
/// UTF-8, syntax errors, every duplicate key (at the repeated key, with a note at the first),
/// undefined aliases, nesting deeper than ``maximumDepth``, and alias expansions that would blow a
/// small file up into millions of nodes ("billion laughs") are all reported with their position.
public struct YAMLLoader: Sendable {
    /// Files larger than this are refused before parsing.
    public var maximumFileBytes = 16 * 1024 * 1024
    /// The most nodes a document may have once its aliases are expanded.
    public var maximumNodes = 8_000_000
    /// The most nodes that alias expansion may add to a document.
    public var maximumAliasExpansion = 100_000
    /// The deepest nesting of lists and mappings.
    public var maximumDepth = 1_000

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
        var composer = Composer(loader: self, source: source)
        let root = composer.compose()
        for diagnostic in composer.diagnostics {
            diagnostics.report(diagnostic)
        }
        return composer.diagnostics.isEmpty ? root : nil
    }

    /// Decodes file bytes as UTF-8, or reports where they stop being UTF-8.
    public static func decode(path: String, bytes: [UInt8]) -> Result<SourceFile, Diagnostic> {
        var bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if let text = String(validating: bytes, as: UTF8.self) {
            return .success(SourceFile(path: path, text: text, bytes: bytes))
        }
        let (offset, location) = firstInvalidUTF8(in: bytes)
        return .failure(
            .error(
                "invalid-utf8",
                "the file is not valid UTF-8 (byte \(offset) is not part of a UTF-8 character); save it as UTF-8",
                at: SourceRange(location)
            )
        )
    }

    private static func firstInvalidUTF8(in bytes: [UInt8]) -> (offset: Int, location: SourceLocation) {
        var location = SourceLocation.start
        var offset = 0
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while case .scalarValue(let scalar) = decoder.decode(&iterator) {
            offset += UTF8.width(scalar)
            location.advance(over: scalar)
        }
        return (offset, location)
    }
}

extension SourceLocation {
    mutating func advance(over scalar: Unicode.Scalar) {
        if scalar == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
    }
}

/// Composes libyaml's events into nodes, with limits, merge keys and duplicate-key checks.
private struct Composer {
    /// A list or mapping whose end has not been reached yet.
    private struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var anchor: String?
        var items: [YAMLNode] = []
        var entries: [YAMLMapping.Entry] = []
        /// A mapping's key, waiting for its value.
        var pendingKey: YAMLScalar?
        var firstKeyLocations: [String: SourceLocation] = [:]
        var merged: [YAMLMapping.Entry] = []
        /// Nodes in this collection, itself included, after alias expansion.
        var size = 1
    }

    let loader: YAMLLoader
    let source: SourceFile
    private(set) var diagnostics: [Diagnostic] = []
    private var stack: [Frame] = []
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var root: YAMLNode?
    private var documents = 0
    private var nodeCount = 0
    private var aliasExpansion = 0

    init(loader: YAMLLoader, source: SourceFile) {
        self.loader = loader
        self.source = source
    }

    mutating func compose() -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            diagnostics.append(.error("yaml-syntax", "the YAML parser could not start (out of memory)", at: nil))
            return nil
        }
        defer { yaml_parser_delete(&parser) }
        return source.bytes.withUnsafeBufferPointer { buffer -> YAMLNode? in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    diagnostics.append(syntaxError(parser))
                    return nil
                }
                let done = event.type == YAML_STREAM_END_EVENT
                let keepGoing = handle(event)
                yaml_event_delete(&event)
                if done || !keepGoing { break }
            }
            if root == nil, diagnostics.isEmpty {
                diagnostics.append(.error("empty-file", "the file is empty; a pipeline starts with 'version: 1'", at: SourceRange(.start)))
            }
            return root
        }
    }

    /// Handles one event; false stops composing (after a fatal problem).
    private mutating func handle(_ event: yaml_event_t) -> Bool {
        let location = Self.location(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                diagnostics.append(.error("yaml-syntax", "a pipeline file holds one YAML document; remove the '---' and what follows it", at: SourceRange(location)))
                return false
            }
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text = Self.string(data.value, length: data.length)
            var style: YAMLScalar.Style = switch data.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: .literal
            case YAML_FOLDED_SCALAR_STYLE: .folded
            default: .plain
            }
            // An explicit `!!str` makes a plain scalar a string, as quoting does.
            if style == .plain, let tag = data.tag, Self.string(tag) == "tag:yaml.org,2002:str" { style = .doubleQuoted }
            let node = YAMLNode.scalar(YAMLScalar(text, style: style, at: location))
            if let anchor = data.anchor { anchors[Self.string(anchor)] = (node, 1) }
            return add(node, size: 1, newNodes: 1, at: location)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            guard stack.count < loader.maximumDepth else {
                diagnostics.append(.error("yaml-too-deep", "the YAML is nested more than \(loader.maximumDepth) levels deep", at: SourceRange(location)))
                return false
            }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            stack.append(Frame(isMapping: isMapping, location: location, anchor: anchor.map(Self.string)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let frame = stack.removeLast()
            let node: YAMLNode
            if frame.isMapping {
                var entries = frame.entries
                // Merge keys (`<<: *defaults`) add the entries the mapping does not set itself.
                for entry in frame.merged where frame.firstKeyLocations[entry.key.text] == nil
                    && !entries.contains(where: { $0.key.text == entry.key.text })
                {
                    entries.append(entry)
                }
                node = .mapping(YAMLMapping(entries: entries, location: frame.location))
            } else {
                node = .sequence(YAMLSequence(items: frame.items, location: frame.location))
            }
            if let anchor = frame.anchor { anchors[anchor] = (node, frame.size) }
            return add(node, size: frame.size, newNodes: 1, at: frame.location)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor)
            guard let (node, size) = anchors[name] else {
                diagnostics.append(.error("yaml-syntax", "the alias '*\(name)' refers to no anchor '&\(name)' defined before it", at: SourceRange(location, length: name.count + 1)))
                return false
            }
            aliasExpansion += size
            guard aliasExpansion <= loader.maximumAliasExpansion else {
                diagnostics.append(.error(
                    "yaml-alias-expansion",
                    "expanding the YAML aliases would add more than \(loader.maximumAliasExpansion) nodes; use fewer nested aliases",
                    at: SourceRange(location, length: name.count + 1)
                ))
                return false
            }
            return add(node, size: size, newNodes: size, at: location)
        default:
            break
        }
        return true
    }

    /// Puts a finished node into its parent, or makes it the root.
    ///
    /// - Parameters:
    ///   - size: the nodes in the subtree, aliases expanded, which the parent's size grows by.
    ///   - newNodes: the nodes this event adds to the document: one for a scalar or a collection
    ///     (whose children were counted as they came), the whole subtree for an alias.
    private mutating func add(_ node: YAMLNode, size: Int, newNodes: Int, at location: SourceLocation) -> Bool {
        nodeCount += newNodes
        guard nodeCount <= loader.maximumNodes else {
            diagnostics.append(.error("yaml-too-large", "the document has more than \(loader.maximumNodes) nodes", at: SourceRange(location)))
            return false
        }
        guard !stack.isEmpty else {
            root = node
            return true
        }
        let index = stack.count - 1
        stack[index].size += size
        guard stack[index].isMapping else {
            stack[index].items.append(node)
            return true
        }
        guard let key = stack[index].pendingKey else {
            guard case .scalar(let key) = node else {
                diagnostics.append(.error("yaml-complex-key", "mapping keys must be plain names, not lists or mappings", at: SourceRange(location)))
                return false
            }
            stack[index].pendingKey = key
            return true
        }
        stack[index].pendingKey = nil
        if key.isPlain, key.text == "<<", stack[index].firstKeyLocations["<<"] == nil {
            stack[index].firstKeyLocations["<<"] = key.location
            stack[index].merged += mergeEntries(from: node)
            return true
        }
        if let first = stack[index].firstKeyLocations[key.text] {
            diagnostics.append(.error(
                "duplicate-key",
                "duplicate key '\(key.text)' in a mapping; each key may appear once",
                at: key.range,
                notes: [.init("'\(key.text)' first appears here", at: SourceRange(first, length: key.range.length))]
            ))
            return true
        }
        stack[index].firstKeyLocations[key.text] = key.location
        stack[index].entries.append(YAMLMapping.Entry(key: key, value: node))
        return true
    }

    private mutating func mergeEntries(from node: YAMLNode) -> [YAMLMapping.Entry] {
        switch node {
        case .mapping(let mapping):
            return mapping.entries
        case .sequence(let sequence):
            var entries: [YAMLMapping.Entry] = []
            for item in sequence.items {
                guard case .mapping(let mapping) = item else {
                    diagnostics.append(.error("yaml-merge", "a merge key '<<' takes a mapping or a list of mappings", at: item.range))
                    continue
                }
                for entry in mapping.entries where !entries.contains(where: { $0.key.text == entry.key.text }) {
                    entries.append(entry)
                }
            }
            return entries
        case .scalar(let scalar):
            diagnostics.append(.error("yaml-merge", "a merge key '<<' takes a mapping or a list of mappings", at: scalar.range))
            return []
        }
    }

    private func syntaxError(_ parser: yaml_parser_t) -> Diagnostic {
        let problem = parser.problem.map { String(cString: $0) } ?? "the YAML is malformed"
        if parser.error == YAML_MEMORY_ERROR {
            return .error("yaml-syntax", "the YAML parser ran out of memory", at: nil)
        }
        if parser.error == YAML_READER_ERROR {
            var location = SourceLocation.start
            for scalar in source.text.utf8.prefix(parser.problem_offset).unicodeScalarsApproximation {
                location.advance(over: scalar)
            }
            let value = parser.problem_value >= 0 ? " (character U+\(String(parser.problem_value, radix: 16, uppercase: true)))" : ""
            return .error("yaml-syntax", "invalid YAML input: \(problem)\(value)", at: SourceRange(location))
        }
        let mark = Self.location(parser.problem_mark)
        var message = "invalid YAML: \(problem)"
        var notes: [Diagnostic.Note] = []
        if let context = parser.context.map({ String(cString: $0) }) {
            let contextMark = Self.location(parser.context_mark)
            if contextMark != mark {
                notes.append(.init(context, at: SourceRange(contextMark)))
            } else {
                message += " (\(context))"
            }
        }
        return .error("yaml-syntax", message, at: SourceRange(mark), notes: notes)
    }

    private static func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private static func string(_ pointer: UnsafeMutablePointer<UInt8>, length: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    private static func string(_ pointer: UnsafeMutablePointer<UInt8>) -> String {
        String(cString: pointer)
    }
}

extension Collection where Element == UInt8 {
    /// The Unicode scalars of UTF-8 bytes that may end mid-character.
    fileprivate var unicodeScalarsApproximation: [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        var iterator = makeIterator()
        var decoder = UTF8()
        while case .scalarValue(let scalar) = decoder.decode(&iterator) { scalars.append(scalar) }
        return scalars
    }
}
