import BlacktailOps
import Foundation
import Testing
@testable import PipelineLanguage

/// The exact text of diagnostics for whole files, compared with files under Golden/.
/// Run with BLACKTAIL_UPDATE_GOLDEN=1 to rewrite them after an intended change, then review the diff.
@Suite struct GoldenDiagnosticsTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/PipelineLanguageTests/Golden")

    @Test(arguments: ["broken", "expressions"])
    func diagnosticsMatchTheGoldenText(name: String) throws {
        let source = try String(contentsOf: Self.folder.appendingPathComponent("\(name).yaml"), encoding: .utf8)
        let compilation = compile(source, path: "\(name).yaml")
        var text = DiagnosticRenderer.text(compilation.diagnostics, in: compilation.source)
        text += (DiagnosticRenderer.summary(compilation.diagnostics) ?? "") + "\n"
        let golden = Self.folder.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["BLACKTAIL_UPDATE_GOLDEN"] == "1" {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(text == (try String(contentsOf: golden, encoding: .utf8)))
    }
}
