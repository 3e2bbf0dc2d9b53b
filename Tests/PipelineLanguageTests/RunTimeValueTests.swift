import Testing
@testable import PipelineLanguage

/// Values known only when the run gets there, and values interpolated into commands.
@Suite struct RunTimeValueTests {
    @Test func anIndexedMetricNamesItsInstanceAndNeedsOnlyIt() throws {
        let text = """
            version: 1
            name: pick
            steps:
              train:
                matrix: {lr: [0.1, 0.2, 0.3]}
                uses: train/logistic
                with:
                  train: ${{ steps.data.outputs.dataset }}
                  learning_rate: ${{ matrix.lr }}
              data:
                uses: data/generate
                with: {kind: blobs, rows: 10, features: 2}
              report:
                matrix: {i: [1]}
                if: steps.train.outputs.metrics[matrix.i].accuracy > 0.5
                run: echo ${{ matrix.i }}
            """
        let compilation = compile(text)
        let node = try #require(compilation.plan?.node("report[0]"), "\(compilation.diagnostics)")
        #expect(node.condition?.description == "steps.train.outputs.metrics[1].accuracy > 0.5")
        #expect(node.needs == ["train[1]"])
    }

    @Test func aMetricArgumentIsDeferredWithItsType() throws {
        let text = """
            version: 1
            name: deferred
            steps:
              data:
                uses: data/generate
                with: {kind: blobs, rows: 10, features: 2}
              model:
                uses: train/logistic
                with: {train: '${{ steps.data.outputs.dataset }}'}
              evaluate:
                uses: eval/classification
                with: {model: '${{ steps.model.outputs.model }}', data: '${{ steps.data.outputs.dataset }}'}
              gate:
                uses: eval/classification
                with:
                  model: ${{ steps.model.outputs.model }}
                  data: ${{ steps.data.outputs.dataset }}
                  min_accuracy: ${{ steps.evaluate.outputs.metrics.accuracy - 0.01 }}
            """
        let compilation = compile(text)
        let gate = try #require(compilation.plan?.node("gate"), "\(compilation.diagnostics)")
        let argument = try #require(gate.arguments.first { $0.name == "min_accuracy" })
        #expect(argument.value.json == ["expression": "steps.evaluate.outputs.metrics.accuracy - 0.01", "type": "float"])
        #expect(gate.needs == ["data", "model", "evaluate"])
    }

    @Test func valuesInCommandsAreQuotedWhenTheShellWouldReadThem() throws {
        let text = "version: 1\nname: q\nparams:\n  name: plain\n  xs: [1, 2.5]\nsteps:\n  a:\n    run: echo ${{ params.name }} ${{ params.xs }} ${{ 0.01 }}\n"
        let plain = try #require(compile(text).plan)
        guard case .shell(let command) = plain.nodes[0].action else { return }
        #expect(command == "echo plain '[1.0,2.5]' 0.01")
        let hostile = try #require(compile(text, parameters: [("name", "x; rm -rf ~ 'y'")]).plan)
        guard case .shell(let quoted) = hostile.nodes[0].action else { return }
        #expect(quoted == #"echo 'x; rm -rf ~ '\''y'\''' '[1.0,2.5]' 0.01"#)
    }
}
