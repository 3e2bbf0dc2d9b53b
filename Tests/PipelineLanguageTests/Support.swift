import BlacktailOps
import Foundation
@testable import PipelineLanguage

/// Compiles pipeline text with the built-in catalogue.
func compile(_ text: String, parameters: [(name: String, value: String)] = [], path: String = "test.yaml") -> Compilation {
    PipelineCompiler(signatures: BuiltinOps.catalogue.signatures).compile(SourceFile(path: path, text: text), parameters: parameters)
}

/// The errors of a compilation as "line:column code" strings, for compact assertions.
func errorSummary(_ compilation: Compilation) -> [String] {
    compilation.diagnostics.filter { $0.severity == .error }.map { diagnostic in
        let place = diagnostic.range.map { "\($0.start.line):\($0.start.column)" } ?? "-"
        return "\(place) \(diagnostic.code)"
    }
}

/// The repository's root, found from this file's place in Tests/.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A valid pipeline used as the base of many tests; `extra` is appended under `steps:`.
func pipeline(steps extra: String = "", params: String = "") -> String {
    """
    version: 1
    name: test
    params:
      seed: 0
    \(params)
    steps:
      prep:
        uses: data/import-csv
        with:
          path: datasets/iris.csv
          label: species
      split:
        uses: data/split
        with:
          input: ${{ steps.prep.outputs.dataset }}
          seed: ${{ params.seed }}
    \(extra)
    """
}

/// A small deterministic generator (SplitMix64), so property tests are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The error `body` throws, if it is of type `E`.
func thrownError<E: Error>(_ type: E.Type, _ body: () throws -> Void) -> E? {
    do {
        try body()
        return nil
    } catch let error as E {
        return error
    } catch {
        return nil
    }
}
typealias Location = PipelineLanguage.SourceLocation
