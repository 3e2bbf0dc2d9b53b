import BlacktailOps
import Foundation
import Testing
@testable import PipelineLanguage

@Suite struct PropertyTests {
    struct RandomPipeline {
        var text: String
        /// Each step's dependencies, by step id.
        var dependencies: [String: Set<String>]
        /// The matrix width of each fanned-out step.
        var fanOut: [String: Int]
    }

    /// A random DAG written as a pipeline in shuffled order: edges by references and by `needs:`,
    /// some steps fanned out by a matrix. With `backEdge`, one dependency also points back, closing
    /// a cycle.
    private func randomPipeline(seed: UInt64, backEdge: Bool = false) -> RandomPipeline {
        var random = SeededGenerator(seed: seed)
        let count = Int.random(in: 2...60, using: &random)
        var references: [[Int]] = Array(repeating: [], count: count)
        var needs: [[Int]] = Array(repeating: [], count: count)
        var widths: [Int?] = Array(repeating: nil, count: count)
        for index in 0..<count {
            for earlier in 0..<index where Int.random(in: 0..<100, using: &random) < 15 {
                if Bool.random(using: &random) { references[index].append(earlier) } else { needs[index].append(earlier) }
            }
            if Int.random(in: 0..<5, using: &random) == 0 { widths[index] = Int.random(in: 1...4, using: &random) }
        }
        if backEdge {
            // Make sure there is an edge to reverse.
            if references[count - 1].isEmpty && needs[count - 1].isEmpty { needs[count - 1].append(0) }
            let target = (references[count - 1] + needs[count - 1]).min()!
            needs[target].append(count - 1)
        }
        var bodies: [String] = []
        for index in 0..<count {
            var body = "  s\(index):\n"
            if let width = widths[index] {
                body += "    matrix:\n      n: [\((0..<width).map(String.init).joined(separator: ", "))]\n"
            }
            let paths = references[index].indices.map { "${{ inputs.i\($0) }}" }.joined(separator: " ")
            body += "    run: echo \(widths[index] == nil ? "" : "${{ matrix.n }} ")\(paths) > ${{ outputs.o }}\n"
            if !references[index].isEmpty {
                body += "    inputs:\n"
                for (position, earlier) in references[index].enumerated() {
                    body += "      i\(position): ${{ steps.s\(earlier).outputs.o }}\n"
                }
            }
            body += "    outputs: {o: file}\n"
            if !needs[index].isEmpty { body += "    needs: [\(needs[index].map { "s\($0)" }.joined(separator: ", "))]\n" }
            bodies.append(body)
        }
        bodies.shuffle(using: &random)
        var dependencies: [String: Set<String>] = [:]
        var fanOut: [String: Int] = [:]
        for index in 0..<count {
            dependencies["s\(index)"] = Set((references[index] + needs[index]).map { "s\($0)" })
            if let width = widths[index] { fanOut["s\(index)"] = width }
        }
        return RandomPipeline(text: "version: 1\nname: random\nsteps:\n" + bodies.joined(), dependencies: dependencies, fanOut: fanOut)
    }

    @Test(arguments: 0..<40)
    func randomDAGsCompileAndTheOrderRespectsEveryEdge(seed: Int) throws {
        let random = randomPipeline(seed: UInt64(seed))
        let compilation = compile(random.text)
        let plan = try #require(compilation.plan, "\(compilation.diagnostics.map(\.message))")
        #expect(compilation.diagnostics.isEmpty)
        let position = Dictionary(uniqueKeysWithValues: plan.nodes.enumerated().map { ($1.id, $0) })
        for node in plan.nodes {
            for need in node.needs {
                #expect(position[need]! < position[node.id]!, "\(need) must come before \(node.id)")
            }
            let expected = Set((random.dependencies[node.step] ?? []).flatMap { step in
                random.fanOut[step].map { width in (0..<width).map { "\(step)[\($0)]" } } ?? [step]
            })
            #expect(Set(node.needs) == expected)
        }
        let expectedCount = random.dependencies.keys.reduce(0) { $0 + (random.fanOut[$1] ?? 1) }
        #expect(plan.nodes.count == expectedCount)
        // Compiling again gives the same bytes.
        #expect(compile(random.text).plan?.json.canonicalText == plan.json.canonicalText)
    }

    @Test(arguments: 0..<20)
    func aBackEdgeIsAlwaysReportedAsACycle(seed: Int) {
        let compilation = compile(randomPipeline(seed: UInt64(1000 + seed), backEdge: true).text)
        #expect(compilation.plan == nil)
        #expect(compilation.diagnostics.filter { $0.severity == .error }.map(\.code).allSatisfy { $0 == "cycle" })
        #expect(compilation.diagnostics.contains { $0.code == "cycle" && $0.message.hasPrefix("the steps form a cycle: ") })
    }

    @Test func randomBytesNeverCrash() {
        var random = SeededGenerator(seed: 42)
        let alphabet = Array("version: 1\nname steps uses run with ${{ }} []{},:-&*!|>'\"#\t\0\u{7F}é".unicodeScalars)
        for _ in 0..<400 {
            let length = Int.random(in: 0...400, using: &random)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length { scalars.append(alphabet.randomElement(using: &random)!) }
            let compilation = compile(String(scalars))
            #expect(compilation.plan != nil || compilation.hasErrors)
        }
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            switch YAMLLoader.decode(path: "random.yaml", bytes: bytes) {
            case .success(let source):
                let compilation = PipelineCompiler(signatures: BuiltinOps.catalogue.signatures).compile(source)
                #expect(compilation.plan != nil || compilation.hasErrors)
            case .failure(let diagnostic):
                #expect(diagnostic.code == "invalid-utf8")
            }
        }
    }

    @Test func mutatedExamplesNeverCrash() throws {
        let original = try String(contentsOf: repositoryRoot.appendingPathComponent("pipelines/iris-classifier.yaml"), encoding: .utf8)
        let scalars = Array(original.unicodeScalars)
        let pieces = Array("${{}}[]{}:-,'\"\n  steps.params.outputs.0.5*!|&".unicodeScalars)
        var random = SeededGenerator(seed: 7)
        for _ in 0..<600 {
            var mutated = scalars
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 0..<mutated.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: mutated.remove(at: index)
                case 1: mutated.insert(pieces.randomElement(using: &random)!, at: index)
                default: mutated[index] = pieces.randomElement(using: &random)!
                }
            }
            let compilation = compile(String(String.UnicodeScalarView(mutated)))
            #expect(compilation.plan != nil || compilation.hasErrors)
            // Every diagnostic with a place points inside the file.
            for diagnostic in compilation.diagnostics {
                if let line = diagnostic.range?.start.line {
                    #expect(line >= 1 && line <= compilation.source.lineCount)
                }
            }
        }
    }

    @Test func hugeScalarsAndWideDocumentsAreHandled() {
        let huge = "version: 1\nname: t\ndescription: \(String(repeating: "x", count: 2_000_000))\nsteps:\n  a:\n    run: echo\n"
        #expect(compile(huge).plan != nil)
        let wide = "version: 1\nname: t\nsteps:\n  a:\n    run: echo\n    env:\n" + (0..<20_000).map { "      V\($0): x\n" }.joined()
        #expect(compile(wide).plan?.nodes.first?.env.count == 20_000)
    }
}
