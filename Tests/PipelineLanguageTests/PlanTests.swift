import BlacktailOps
import Foundation
import Testing
@testable import PipelineLanguage

@Suite struct PlanTests {
    @Test func nodesComeInDependencyOrderWithFileOrderBetweenEquals() throws {
        let text = """
            version: 1
            name: order
            steps:
              report:
                run: echo ${{ inputs.m }}
                inputs: {m: '${{ steps.train.outputs.m }}'}
              train:
                run: echo ${{ inputs.d }} > ${{ outputs.m }}
                inputs: {d: '${{ steps.prep.outputs.d }}'}
                outputs: {m: model}
              lint:
                run: echo lint
              prep:
                run: echo > ${{ outputs.d }}
                outputs: {d: dataset}
            """
        let plan = try #require(compile(text).plan)
        #expect(plan.nodes.map(\.id) == ["lint", "prep", "train", "report"])
        #expect(plan.node("report")?.needs == ["train"])
        #expect(plan.edges.map { "\($0.from)->\($0.to)" } == ["prep->train", "train->report"])
    }

    @Test func matrixExpandsInAxisOrderWithIncludeAndExclude() throws {
        let text = """
            version: 1
            name: sweep
            params:
              rates: [0.1, 0.01]
            steps:
              train:
                matrix:
                  lr: ${{ params.rates }}
                  depth: [1, 2]
                  exclude:
                    - {lr: 0.01, depth: 2}
                  include:
                    - {lr: 0.5, depth: 3}
                    - {lr: 0.1, depth: 1}
                run: echo ${{ matrix.lr }} ${{ matrix.depth }} > ${{ outputs.m }}
                outputs: {m: model}
              pick:
                run: echo ${{ inputs.all }} ${{ inputs.first }}
                inputs:
                  all: ${{ steps.train.outputs.m }}
                  first: ${{ steps.train.outputs.m[0] }}
            """
        let compilation = compile(text)
        let plan = try #require(compilation.plan, "\(compilation.diagnostics)")
        let train = plan.nodes.filter { $0.step == "train" }
        #expect(train.map(\.id) == ["train[0]", "train[1]", "train[2]", "train[3]"])
        #expect(train.map { $0.matrix.map(\.value.literal).joined(separator: ",") } == ["0.1,1", "0.1,2", "0.01,1", "0.5,3"])
        guard case .shell(let command) = train[3].action else { Issue.record("expected a command"); return }
        #expect(command == "echo 0.5 3 > ${{ outputs.m }}")
        let pick = try #require(plan.node("pick"))
        #expect(pick.needs == ["train[0]", "train[1]", "train[2]", "train[3]"])
        #expect(pick.arguments.map { $0.value.references.map(\.node) } == [["train[0]", "train[1]", "train[2]", "train[3]"], ["train[0]"]])
    }

    @Test func keysAreStableAndFollowContent() throws {
        let base = pipeline(steps: "  train:\n    uses: train/pca\n    with:\n      train: ${{ steps.split.outputs.train }}\n      components: 2\n")
        let first = try #require(compile(base).plan)
        let again = try #require(compile(base).plan)
        #expect(first.nodes.map(\.key) == again.nodes.map(\.key))

        // Changing a parameter changes the node that reads it and everything downstream, nothing else.
        let seeded = try #require(compile(base, parameters: [("seed", "7")]).plan)
        #expect(seeded.node("prep")?.key == first.node("prep")?.key)
        #expect(seeded.node("split")?.key != first.node("split")?.key)
        #expect(seeded.node("train")?.key != first.node("train")?.key)

        // Resources, retries and renaming a step do not change what it computes.
        let tuned = base.replacingOccurrences(of: "      components: 2\n", with: "      components: 2\n    resources: {cpu: 4}\n    retry: 3\n")
        #expect(try #require(compile(tuned).plan).node("train")?.key == first.node("train")?.key)
        let renamed = base.replacingOccurrences(of: "  train:\n", with: "  pca:\n")
        #expect(try #require(compile(renamed).plan).node("pca")?.key == first.node("train")?.key)

        // An int written where a float is expected is the same value.
        let float = base.replacingOccurrences(of: "      seed: ${{ params.seed }}\n", with: "      seed: ${{ params.seed }}\n      train: 1\n      test: 0\n")
        let floatWritten = float.replacingOccurrences(of: "      train: 1\n", with: "      train: 1.0\n")
        #expect(try #require(compile(float).plan).node("split")?.key == (try #require(compile(floatWritten).plan)).node("split")?.key)
    }

    @Test func planJSONIsByteIdenticalAcrossCompilations() throws {
        let url = repositoryRoot.appendingPathComponent("pipelines/digits-sweep.yaml")
        let compiler = PipelineCompiler(signatures: BuiltinOps.catalogue.signatures)
        let first = try #require(compiler.compile(path: url.path).plan).json.prettyText
        let second = try #require(compiler.compile(path: url.path).plan).json.prettyText
        #expect(first == second)
        #expect(first.contains("\"format\": \"blacktail.plan/1\""))
        // The path the file was read from is not part of the plan.
        #expect(!first.contains(repositoryRoot.path))
    }

    @Test func defaultsAreFilledInAndIntsWidenToFloats() throws {
        let plan = try #require(compile(pipeline()).plan)
        let split = try #require(plan.node("split"))
        let arguments = Dictionary(uniqueKeysWithValues: split.arguments.map { ($0.name, $0.value.json) })
        #expect(arguments["train"] == .double(0.8))
        #expect(arguments["stratify"] == .bool(true))
        #expect(arguments["seed"] == .int(0))
        #expect(arguments["input"] == ["node": "prep", "output": "dataset"])
    }

    @Test func conditionsAreFoldedOrKeptForRunTime() throws {
        let text = pipeline(
            steps: """
                  gated:
                    if: ${{ params.publish && steps.eval.outputs.metrics.accuracy > params.bar * 2 }}
                    run: echo
                  never:
                    if: params.publish == false
                    run: echo
                  always_on:
                    if: ${{ params.publish }}
                    run: echo
                  cleanup:
                    needs: [gated]
                    if: always()
                    run: echo
                  eval:
                    uses: eval/classification
                    with:
                      model: ${{ steps.model.outputs.model }}
                      data: ${{ steps.split.outputs.test }}
                  model:
                    uses: train/logistic
                    with:
                      train: ${{ steps.split.outputs.train }}
                """,
            params: "  publish: true\n  bar: 0.45\n"
        )
        let compilation = compile(text)
        let plan = try #require(compilation.plan, "\(compilation.diagnostics)")
        #expect(plan.node("gated")?.condition?.description == "steps.eval.outputs.metrics.accuracy > 0.9")
        #expect(plan.node("gated")?.needs == ["eval"])
        #expect(plan.node("never")?.condition?.description == "false")
        #expect(plan.node("always_on")?.condition == nil)
        #expect(plan.node("cleanup")?.condition?.description == "always()")
    }

    @Test func runStepsKeepPathPlaceholdersAndFoldValues() throws {
        let text = pipeline(
            steps: """
                  custom:
                    run: python3 ${{ inputs.script }} --data ${{ inputs.data }} --lr ${{ params.lr * 10 }} --out ${{ outputs.model }}
                    inputs:
                      script: examples/train.py
                      data: ${{ steps.split.outputs.train }}
                    outputs:
                      model: model
                      log: {type: file, path: logs/train.log}
                    env:
                      MODE: fast-${{ params.seed }}
                """,
            params: "  lr: 0.01\n"
        )
        let plan = try #require(compile(text).plan)
        let node = try #require(plan.node("custom"))
        guard case .shell(let command) = node.action else { Issue.record("expected a command"); return }
        #expect(command == "python3 ${{ inputs.script }} --data ${{ inputs.data }} --lr 0.1 --out ${{ outputs.model }}")
        #expect(node.arguments.map { $0.value.json } == [["path": "examples/train.py"], ["node": "split", "output": "train"]])
        #expect(node.outputs.map(\.path) == [nil, "logs/train.log"])
        #expect(node.env.map { "\($0.name)=\($0.value)" } == ["MODE=fast-0"])
    }

    @Test func resourcesRetryAndTimeoutAreResolved() throws {
        let text = pipeline(
            steps: """
                  heavy:
                    run: echo
                    resources: {cpu: '${{ params.cores }}', memory: 1.5GiB, gpu: 2, labels: a100}
                    retry: {attempts: 4, backoff: {initial: 30s, factor: 3, max: 1h}}
                    timeout: 1h30m
                    cache: false
                """,
            params: "  cores: 8\n"
        )
        let node = try #require(compile(text).plan?.node("heavy"))
        #expect(node.resources == ResourceRequest(cpu: 8, memoryBytes: 1_610_612_736, gpu: 2, labels: ["a100"]))
        #expect(node.retry == RetryPolicy(attempts: 4, initialBackoffSeconds: 30, backoffFactor: 3, maximumBackoffSeconds: 3600))
        #expect(node.timeoutSeconds == 5400)
        #expect(node.cache == false)
    }

    @Test func requiredParamsComeFromTheCommandLine() throws {
        let text = "version: 1\nname: t\nparams:\n  tags: {type: list, items: string}\n  n: {type: int, min: 1}\nsteps:\n  a:\n    run: echo ${{ join(params.tags, '+') }} ${{ params.n }}\n"
        #expect(errorSummary(compile(text)) == ["4:3 missing-param", "5:3 missing-param"])
        let plan = try #require(compile(text, parameters: [("tags", "a,b"), ("n", "3")]).plan)
        guard case .shell(let command) = plan.nodes[0].action else { return }
        #expect(command == "echo a+b 3")
        #expect(plan.params.map { "\($0.name)=\($0.value.literal)" } == ["tags=['a', 'b']", "n=3"])
        #expect(errorSummary(compile(text, parameters: [("tags", "[x]"), ("n", "0")])) == ["- constraint"])
    }

    @Test func everyExamplePipelineCompiles() throws {
        let folder = repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 4)
        let compiler = PipelineCompiler(signatures: BuiltinOps.catalogue.signatures)
        for file in files {
            let compilation = compiler.compile(path: folder.appendingPathComponent(file).path)
            #expect(compilation.plan != nil, "\(file): \(compilation.diagnostics.map(\.message))")
            #expect(compilation.diagnostics.isEmpty, "\(file) has warnings: \(compilation.diagnostics.map(\.message))")
        }
    }
}
