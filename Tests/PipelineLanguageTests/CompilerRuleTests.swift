import Testing
@testable import PipelineLanguage

/// One test per rule of the compiler: each file breaks one rule and must get exactly the expected
/// errors, at the expected places.
@Suite struct CompilerRuleTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var text: String
        var errors: [String]
        var parameters: [String] = []

        var testDescription: String { name }
    }

    static let header = "version: 1\nname: t\n"

    static let cases: [Case] = [
        Case(name: "not a mapping", text: "- a\n- b\n", errors: ["1:1 expected-mapping"]),
        Case(name: "missing version", text: "name: t\nsteps:\n  a:\n    run: echo\n", errors: ["1:1 missing-key"]),
        Case(name: "wrong version", text: "version: 2\nname: t\nsteps:\n  a:\n    run: echo\n", errors: ["1:10 unsupported-version"]),
        Case(name: "missing name", text: "version: 1\nsteps:\n  a:\n    run: echo\n", errors: ["1:1 missing-key"]),
        Case(name: "invalid pipeline name", text: "version: 1\nname: My Pipeline\nsteps:\n  a:\n    run: echo\n", errors: ["2:7 invalid-name"]),
        Case(name: "unknown top-level key", text: header + "stepz:\n  a:\n    run: echo\n", errors: ["1:1 missing-key", "3:1 unknown-key"]),
        Case(name: "no steps", text: header + "steps: {}\n", errors: ["3:8 no-steps"]),
        Case(name: "step without action", text: header + "steps:\n  a:\n    needs: []\n", errors: ["4:3 missing-key"]),
        Case(name: "uses and run", text: header + "steps:\n  a:\n    uses: data/split\n    run: echo\n", errors: ["5:5 conflicting-keys"]),
        Case(name: "unknown step key", text: header + "steps:\n  a:\n    run: echo\n    retries: 3\n", errors: ["6:5 unknown-key"]),
        Case(name: "invalid step id", text: header + "steps:\n  my-step:\n    run: echo\n", errors: ["4:3 invalid-name"]),
        Case(name: "unknown op", text: header + "steps:\n  a:\n    uses: data/splitt\n", errors: ["5:11 unknown-op"]),
        Case(name: "unknown argument", text: header + "steps:\n  a:\n    uses: data/import-csv\n    with:\n      path: x.csv\n      lable: y\n", errors: ["8:7 unknown-argument"]),
        Case(name: "missing argument", text: header + "steps:\n  a:\n    uses: data/import-csv\n    with:\n      label: y\n", errors: ["6:5 missing-argument"]),
        Case(name: "missing with", text: header + "steps:\n  a:\n    uses: data/import-csv\n", errors: ["5:11 missing-argument"]),
        Case(name: "argument of the wrong type", text: header + "steps:\n  a:\n    uses: data/split\n    with:\n      input: x\n", errors: ["7:14 type-mismatch"]),
        Case(name: "argument out of range", text: header + "steps:\n  a:\n    uses: data/generate\n    with:\n      kind: blobs\n      rows: 0\n      features: 2\n", errors: ["8:13 constraint"]),
        Case(name: "argument not a choice", text: header + "steps:\n  a:\n    uses: data/generate\n    with:\n      kind: spirals\n      rows: 10\n      features: 2\n", errors: ["7:13 constraint"]),
        Case(
            name: "model where a dataset is expected",
            text: header + "steps:\n  g:\n    uses: data/generate\n    with: {kind: blobs, rows: 9, features: 2}\n  t:\n    uses: train/pca\n    with:\n      train: ${{ steps.g.outputs.dataset }}\n      components: 2\n  s:\n    uses: data/split\n    with:\n      input: ${{ steps.t.outputs.model }}\n",
            errors: ["15:14 type-mismatch"]
        ),
        Case(name: "unknown step in reference", text: header + "steps:\n  a:\n    uses: data/split\n    with:\n      input: ${{ steps.nope.outputs.dataset }}\n", errors: ["7:18 expression"]),
        Case(
            name: "unknown output in reference",
            text: header + "steps:\n  g:\n    uses: data/generate\n    with: {kind: blobs, rows: 9, features: 2}\n  s:\n    uses: data/split\n    with:\n      input: ${{ steps.g.outputs.data }}\n",
            errors: ["10:18 expression"]
        ),
        Case(name: "unknown parameter", text: header + "params:\n  seed: 1\nsteps:\n  a:\n    run: echo ${{ params.sed }}\n", errors: ["7:19 expression"]),
        Case(name: "unknown matrix axis", text: header + "steps:\n  a:\n    matrix:\n      x: [1, 2]\n    run: echo ${{ matrix.y }}\n", errors: ["7:19 expression"]),
        Case(name: "self reference", text: header + "steps:\n  a:\n    run: echo ${{ inputs.x }}\n    inputs:\n      x: ${{ steps.a.outputs.o }}\n    outputs:\n      o: file\n", errors: ["7:14 expression"]),
        Case(name: "unknown need", text: header + "steps:\n  a:\n    run: echo\n    needs: [b]\n", errors: ["6:13 unknown-step"]),
        Case(name: "needs itself", text: header + "steps:\n  a:\n    run: echo\n    needs: a\n", errors: ["6:12 cycle"]),
        Case(
            name: "cycle through needs",
            text: header + "steps:\n  a:\n    run: echo\n    needs: [c]\n  b:\n    run: echo\n    needs: [a]\n  c:\n    run: echo\n    needs: [b]\n",
            errors: ["4:3 cycle"]
        ),
        Case(name: "invalid cron", text: header + "schedule: ['0 0 * * *', '0 25 * * *']\nsteps:\n  a:\n    run: echo\n", errors: ["3:25 invalid-cron"]),
        Case(name: "invalid duration", text: header + "steps:\n  a:\n    run: echo\n    timeout: 30\n", errors: ["6:14 invalid-duration"]),
        Case(name: "invalid memory", text: header + "steps:\n  a:\n    run: echo\n    resources:\n      memory: lots\n", errors: ["7:15 invalid-memory"]),
        Case(name: "negative gpu", text: header + "steps:\n  a:\n    run: echo\n    resources:\n      gpu: -1\n", errors: ["7:12 constraint"]),
        Case(name: "retry out of range", text: header + "steps:\n  a:\n    run: echo\n    retry: 0\n", errors: ["6:12 constraint"]),
        Case(name: "unknown artifact type", text: header + "steps:\n  a:\n    run: echo ${{ outputs.o }}\n    outputs:\n      o: modle\n", errors: ["7:10 unknown-type"]),
        Case(name: "absolute output path", text: header + "steps:\n  a:\n    run: echo\n    outputs:\n      o: {type: file, path: /etc/passwd}\n", errors: ["7:29 invalid-path"]),
        Case(name: "escaping input path", text: header + "steps:\n  a:\n    run: echo ${{ inputs.x }}\n    inputs:\n      x: ../secret\n", errors: ["7:10 invalid-path"]),
        Case(name: "upstream output used directly in a command", text: header + "steps:\n  g:\n    uses: data/generate\n    with: {kind: blobs, rows: 9, features: 2}\n  a:\n    run: cat ${{ steps.g.outputs.dataset }}\n", errors: ["8:18 expression"]),
        Case(name: "matrix too large", text: header + "steps:\n  a:\n    matrix:\n      x: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n      y: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n    run: echo ${{ matrix.x }} ${{ matrix.y }}\n", errors: ["6:7 matrix-too-large"]),
        Case(name: "matrix excludes everything", text: header + "steps:\n  a:\n    matrix:\n      x: [1]\n      exclude: [{x: 1}]\n    run: echo ${{ matrix.x }}\n", errors: ["6:7 invalid-matrix"]),
        Case(name: "matrix include lacks an axis", text: header + "steps:\n  a:\n    matrix:\n      x: [1]\n      y: [2]\n      include: [{x: 3}]\n    run: echo ${{ matrix.x }}${{ matrix.y }}\n", errors: ["8:17 invalid-matrix"]),
        Case(name: "if that is not a bool", text: header + "steps:\n  a:\n    run: echo\n    if: 1 + 1\n", errors: ["6:9 expression"]),
        Case(name: "metric outside if", text: header + "steps:\n  a:\n    uses: eval/classification\n    with: {model: x, data: y}\n  b:\n    run: echo\n    env:\n      X: ${{ steps.a.outputs.metrics.accuracy }}\n", errors: ["6:19 type-mismatch", "6:28 type-mismatch", "10:10 not-static"]),
        Case(name: "fanned-out step where one artifact is expected", text: header + "steps:\n  g:\n    matrix: {n: [1, 2]}\n    uses: data/generate\n    with: {kind: blobs, rows: '${{ matrix.n }}', features: 2}\n  s:\n    uses: data/split\n    with:\n      input: ${{ steps.g.outputs.dataset }}\n", errors: ["11:14 type-mismatch"]),
        Case(name: "param default of the wrong type", text: header + "params:\n  n:\n    type: int\n    default: many\nsteps:\n  a:\n    run: echo ${{ params.n }}\n", errors: ["6:14 type-mismatch"]),
        Case(name: "param default outside its range", text: header + "params:\n  n:\n    type: int\n    default: 5\n    max: 3\nsteps:\n  a:\n    run: echo ${{ params.n }}\n", errors: ["6:14 constraint"]),
        Case(name: "param without default or value", text: header + "params:\n  n:\n    type: int\nsteps:\n  a:\n    run: echo ${{ params.n }}\n", errors: ["4:3 missing-param"]),
        Case(name: "unknown param type", text: header + "params:\n  n:\n    type: integer\nsteps:\n  a:\n    run: echo\n", errors: ["5:11 unknown-type"]),
        Case(name: "unknown -p parameter", text: header + "params:\n  lr: 0.1\nsteps:\n  a:\n    run: echo ${{ params.lr }}\n", errors: ["- unknown-param"], parameters: ["lrr=1"]),
        Case(name: "-p value of the wrong type", text: header + "params:\n  lr: 0.1\nsteps:\n  a:\n    run: echo ${{ params.lr }}\n", errors: ["- type-mismatch"], parameters: ["lr=fast"]),
        Case(name: "-p value not a choice", text: header + "params:\n  m: {default: a, choices: [a, b]}\nsteps:\n  a:\n    run: echo ${{ params.m }}\n", errors: ["- constraint"], parameters: ["m=c"]),
        Case(name: "not-finite number", text: header + "steps:\n  a:\n    uses: data/split\n    with:\n      input: x\n      train: .nan\n", errors: ["7:14 type-mismatch", "8:14 not-finite"]),
        Case(name: "env name", text: header + "steps:\n  a:\n    run: echo\n    env:\n      1X: y\n", errors: ["7:7 invalid-name"]),
        Case(name: "with on a run step", text: header + "steps:\n  a:\n    run: echo\n    with: {}\n", errors: ["6:5 misplaced-key"]),
        Case(
            name: "metric of the wrong type for an argument",
            text: header + "steps:\n  e:\n    uses: eval/classification\n    with: {model: '${{ steps.m.outputs.model }}', data: '${{ steps.g.outputs.dataset }}'}\n  g:\n    uses: data/generate\n    with: {kind: blobs, rows: 9, features: 2}\n  m:\n    uses: train/pca\n    with: {train: '${{ steps.g.outputs.dataset }}', components: 2}\n  s:\n    uses: data/split\n    with:\n      input: ${{ steps.g.outputs.dataset }}\n      stratify: ${{ steps.e.outputs.metrics.accuracy }}\n      seed: ${{ steps.e.outputs.metrics.accuracy > 0.5 }}\n",
            errors: ["17:17 type-mismatch", "18:13 type-mismatch"]
        ),
        Case(name: "integer too large", text: header + "steps:\n  a:\n    uses: data/split\n    with:\n      input: x\n      seed: 99999999999999999999\n", errors: ["7:14 type-mismatch", "8:13 integer-out-of-range"]),
        Case(name: "malformed hex is a string", text: header + "steps:\n  a:\n    uses: data/split\n    with:\n      input: x\n      seed: 0x-1\n", errors: ["7:14 type-mismatch", "8:13 type-mismatch"]),
        Case(name: "step output in a matrix axis", text: header + "steps:\n  g:\n    run: echo > ${{ outputs.o }}\n    outputs: {o: file}\n  a:\n    matrix:\n      x: ${{ steps.g.outputs.o }}\n    run: echo ${{ matrix.x }}\n", errors: ["9:14 expression"]),
        Case(name: "empty exclude entry", text: header + "steps:\n  a:\n    matrix:\n      x: [1, 2]\n      exclude: [{}]\n    run: echo ${{ matrix.x }}\n", errors: ["7:17 invalid-matrix"]),
        Case(name: "cpu above the limit", text: header + "steps:\n  a:\n    run: echo\n    resources: {cpu: 5000}\n", errors: ["6:22 constraint"]),
        Case(name: "a default in error is reported once", text: header + "params:\n  a: .inf\n  b: {type: float, default: .nan}\nsteps:\n  s:\n    run: echo ${{ params.a }} ${{ params.b }}\n", errors: ["4:6 not-finite", "5:29 not-finite"]),
        Case(name: "two merge keys", text: header + "x: &x {a: 1}\nsteps:\n  s:\n    <<: *x\n    <<: *x\n    run: echo\n", errors: ["7:5 duplicate-key"]),
        Case(name: "expression syntax error", text: header + "steps:\n  a:\n    run: echo ${{ params.x = 1 }}\n", errors: ["5:28 expression"]),
    ]

    @Test(arguments: cases)
    func rule(_ testCase: Case) {
        let parameters = testCase.parameters.map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            return (name: parts[0], value: parts[1])
        }
        let compilation = compile(testCase.text, parameters: parameters)
        #expect(errorSummary(compilation) == testCase.errors, "\(compilation.diagnostics.map(\.message))")
        #expect(compilation.plan == nil)
    }

    @Test func everyErrorIsReportedInOnePass() {
        let text = Self.header + "steps:\n  a:\n    uses: data/nope\n  b:\n    run: echo ${{ params.x }}\n  c:\n    run: echo\n    timeout: soon\n"
        #expect(errorSummary(compile(text)) == ["5:11 unknown-op", "7:19 expression", "10:14 invalid-duration"])
    }

    @Test func suggestionsNameTheClosestCandidate() {
        let compilation = compile(Self.header + "steps:\n  prepare:\n    run: echo\n  b:\n    run: echo\n    needs: [prepar]\n")
        #expect(compilation.diagnostics.first?.message == "unknown step 'prepar' in 'needs'; did you mean 'prepare'?")
    }

    @Test func cyclesArePrintedWithTheirPath() {
        let text = Self.header + "steps:\n  a:\n    run: echo\n    needs: [c]\n  b:\n    run: echo\n    needs: [a]\n  c:\n    run: echo\n    needs: [b]\n"
        let cycle = compile(text).diagnostics.first
        #expect(cycle?.message == "the steps form a cycle: a -> c -> b -> a")
        #expect(cycle?.notes.map(\.message) == ["'a' depends on 'c' here", "'c' depends on 'b' here", "'b' depends on 'a' here"])
    }

    @Test func aMatrixAxisTheStepNeverReadsIsAWarning() {
        let text = Self.header + "steps:\n  a:\n    matrix:\n      x: [1, 2]\n      y: [a, b]\n    run: echo ${{ matrix.x }}\n"
        let compilation = compile(text)
        #expect(compilation.plan?.nodes.count == 4)
        #expect(compilation.diagnostics.map(\.code) == ["unused-axis"])
        #expect(compilation.diagnostics.first?.range?.start == Location(line: 7, column: 7))
    }

    @Test func warningsForUnusedParamsInputsAndOutputs() {
        let text = Self.header + "params:\n  unused: 1\nsteps:\n  g:\n    uses: data/generate\n    with: {kind: blobs, rows: 9, features: 2}\n  a:\n    run: echo hi\n    inputs:\n      x: ${{ steps.g.outputs.dataset }}\n    outputs:\n      o: file\n      p: {type: file, path: out.txt}\n"
        let compilation = compile(text)
        #expect(compilation.plan != nil)
        #expect(compilation.diagnostics.map(\.code) == ["unused-param", "unused-input", "unused-output"])
    }
}
