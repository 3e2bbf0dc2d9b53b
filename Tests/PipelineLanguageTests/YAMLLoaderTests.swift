import Testing
@testable import PipelineLanguage

@Suite struct YAMLLoaderTests {
    private func load(_ text: String) -> (YAMLNode?, [Diagnostic]) {
        var diagnostics = DiagnosticCollector()
        let node = YAMLLoader().load(SourceFile(path: "t.yaml", text: text), diagnostics: &diagnostics)
        return (node, diagnostics.sorted)
    }

    @Test func keepsPositionsAndStyles() throws {
        let (node, diagnostics) = load("steps:\n  a: 'quoted'\n  b: plain\n  c: |\n    line one\n")
        #expect(diagnostics.isEmpty)
        guard case .mapping(let top)? = node, case .mapping(let steps) = top.entries[0].value else {
            Issue.record("expected mappings")
            return
        }
        let scalars = steps.entries.map { entry -> (String, Location, YAMLScalar.Style) in
            guard case .scalar(let scalar) = entry.value else { return ("", Location.start, YAMLScalar.Style.plain) }
            return (entry.key.text, scalar.location, scalar.style)
        }
        #expect(scalars.map(\.0) == ["a", "b", "c"])
        #expect(scalars.map(\.1) == [Location(line: 2, column: 6), Location(line: 3, column: 6), Location(line: 4, column: 6)])
        #expect(scalars.map(\.2) == [.singleQuoted, .plain, .literal])
        #expect(steps.entries.map(\.key.style) == [.plain, .plain, .plain])
    }

    @Test func duplicateKeysPointAtTheSecondOccurrence() {
        let (node, diagnostics) = load("steps:\n  a: 1\n  b: 2\n  a: 3\n")
        #expect(node == nil)
        #expect(diagnostics.map(\.code) == ["duplicate-key"])
        #expect(diagnostics.first?.range?.start == Location(line: 4, column: 3))
        #expect(diagnostics.first?.notes.first?.range?.start == Location(line: 2, column: 3))
    }

    @Test func duplicateKeysInFlowMappings() {
        let (_, diagnostics) = load("x: {a: 1, a: 2}\n")
        #expect(diagnostics.map(\.code) == ["duplicate-key"])
        #expect(diagnostics.first?.range?.start == Location(line: 1, column: 11))
    }

    @Test func syntaxErrorsHaveTheirPosition() {
        let (_, diagnostics) = load("a: [1, 2\nb: 3\n")
        #expect(diagnostics.map(\.code) == ["yaml-syntax"])
        #expect(diagnostics.first?.range?.start.line == 2)
    }

    @Test func emptyAndMultiDocumentFiles() {
        #expect(load("").1.map(\.code) == ["empty-file"])
        #expect(load("# only a comment\n").1.map(\.code) == ["empty-file"])
        #expect(load("a: 1\n---\nb: 2\n").1.map(\.code) == ["yaml-syntax"])
    }

    @Test func mergeKeysAddMissingEntries() {
        let (node, diagnostics) = load("base: &base {cpu: 2, gpu: 1}\nstep:\n  <<: *base\n  gpu: 0\n")
        #expect(diagnostics.isEmpty)
        guard case .mapping(let top)? = node, case .mapping(let step) = top.entries[1].value else {
            Issue.record("expected mappings")
            return
        }
        #expect(step.entries.map(\.key.text) == ["gpu", "cpu"])
        guard case .scalar(let gpu)? = step["gpu"] else { return }
        #expect(gpu.text == "0")
    }

    @Test func aliasBombsAreStopped() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            text += "a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]\n"
        }
        let (node, diagnostics) = load(text)
        #expect(node == nil)
        #expect(diagnostics.map(\.code) == ["yaml-alias-expansion"])
    }

    @Test func deepNestingIsAnError() {
        let (_, flow) = load(String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000))
        #expect(flow.map(\.code) == ["yaml-too-deep"])
        var block = ""
        for depth in 0..<1_200 { block += String(repeating: " ", count: depth) + "k:\n" }
        let (_, nested) = load(block)
        #expect(nested.map(\.code) == ["yaml-too-deep"])
    }

    @Test func undefinedAliasIsAnError() {
        #expect(load("a: *nowhere\n").1.map(\.code) == ["yaml-syntax"])
    }

    @Test func invalidUTF8IsReportedWithItsPosition() {
        let bytes: [UInt8] = Array("version: 1\nname: x".utf8) + [0xFF, 0x0A]
        guard case .failure(let diagnostic) = YAMLLoader.decode(path: "bad.yaml", bytes: bytes) else {
            Issue.record("expected a failure")
            return
        }
        #expect(diagnostic.code == "invalid-utf8")
        #expect(diagnostic.range?.start == Location(line: 2, column: 8))
    }

    @Test func aByteOrderMarkIsSkipped() {
        guard case .success(let source) = YAMLLoader.decode(path: "bom.yaml", bytes: [0xEF, 0xBB, 0xBF] + Array("a: 1\n".utf8)) else {
            Issue.record("expected success")
            return
        }
        #expect(source.text == "a: 1\n")
    }

    @Test func controlCharactersAreAnError() {
        #expect(load("a: b\u{1}c\n").1.map(\.code) == ["yaml-syntax"])
    }
}

extension YAMLNode: Equatable {
    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case (.scalar(let a), .scalar(let b)): a.text == b.text && a.style == b.style
        case (.sequence(let a), .sequence(let b)): a.items == b.items
        case (.mapping(let a), .mapping(let b)):
            a.entries.map(\.key.text) == b.entries.map(\.key.text) && a.entries.map(\.value) == b.entries.map(\.value)
        default: false
        }
    }
}
