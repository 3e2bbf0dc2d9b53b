import BlacktailData
import BlacktailOps
@testable import Engine
import Foundation
import Frameworks
import GRDB
import PipelineLanguage
import Testing

/// The market: publishing from a pipeline with lineage, pulling and verifying, tampering, version
/// immutability, yanking, aliases, search, and market models as pipeline inputs.
@Suite struct MarketTests {
    /// A bench with a key, and the flagship pipeline run once (publishing iris-mlp@1.0.0).
    static func publishedIris(epochs: Int = 20) async throws -> (bench: TestBench, runID: String) {
        let bench = try TestBench()
        try KeyRing(folder: bench.workspace.keysFolder).create(name: "alice")
        let text = try String(contentsOfFile: "\(TestBench.projectRoot)/pipelines/iris-classifier.yaml", encoding: .utf8)
        let runID = try await bench.store.submit(
            try bench.submission(text, parameters: [("epochs", "\(epochs)"), ("min_accuracy", "0.5")]), now: Date().timeIntervalSince1970
        ).runID
        let tasks = try await bench.runToEnd(runID)
        #expect(tasks["publish"]?.snapshot.state == .succeeded, "\(tasks["publish"]?.snapshot.message ?? "")")
        return (bench, runID)
    }

    static func verify(_ bench: TestBench, _ version: MarketVersion) async -> Verifier.Report {
        await Verifier(store: bench.store, registry: bench.store).verify(
            manifestBytes: version.manifestBytes, signature: version.signatureRecord, expected: (version.name, version.version),
            files: .artifacts(bench.workspace.artifacts)
        )
    }

    @Test func aPipelinePublishesWithItsLineageAndTheModelVerifies() async throws {
        let (bench, runID) = try await Self.publishedIris()
        defer { bench.remove() }
        let version = try await bench.store.resolve(try MarketReference(parsing: "iris-mlp"))
        #expect(version.version == "1.0.0")
        #expect(version.id == Digest.sha256(version.manifestBytes))
        let manifest = try version.manifest()
        #expect(manifest.card.framework == "mlp")
        #expect(manifest.card.task == "classification")
        #expect(manifest.card.classes == ["setosa", "versicolor", "virginica"])
        #expect(manifest.card.features.count == 4)
        #expect(manifest.card.preprocessing == "standard")
        #expect(manifest.card.license == "CC-BY-4.0")
        #expect(manifest.card.tags == ["iris", "tabular", "classification"])
        #expect(manifest.card.metrics["accuracy"] != nil)
        #expect(manifest.card.evaluation?.node == "evaluate")
        #expect(manifest.card.evaluation?.dataset == "scale.test")
        let lineage = try #require(manifest.lineage)
        let run = try #require(try await bench.store.run(runID))
        #expect(lineage.run == runID)
        #expect(lineage.pipelineFileSHA256 == run.fileDigest)
        #expect(lineage.params == run.params)
        #expect(lineage.node == "train")
        #expect(Set(lineage.seeds.keys) == ["prep", "split", "scale", "train"])
        #expect(lineage.inputs.contains { $0.source == "datasets/iris.csv" && $0.type == "file" })
        let tasks = try await bench.tasks(runID)
        #expect(manifest.modelFile?.sha256 == tasks["train"]?.outputs.first { $0.name == "model" }?.digest)
        // The step's output is the signed record.
        let record = try bench.read(try #require(tasks["publish"]?.outputs.first))
        #expect(record.contains(version.id))

        let report = await Self.verify(bench, version)
        #expect(report.passed, "\(report.failures)")
        #expect(Set(report.checks.map(\.subject)) == ["manifest", "signature", "file model.h5", "file metrics.json", "lineage"])

        // Pulled: the files, the manifest and the signature, and the copy verifies too.
        let folder = "\(bench.folder)/pulled"
        let files = try version.pull(from: bench.workspace.artifacts, to: folder)
        #expect(files.map(\.path) == ["model.h5", "metrics.json"])
        #expect(FileManager.default.contents(atPath: "\(folder)/manifest.json") == version.manifestBytes)
        let signature = try JSONDecoder().decode(ManifestSignature.self, from: try Data(contentsOf: URL(fileURLWithPath: "\(folder)/manifest.sig")))
        let pulled = await Verifier(store: bench.store, registry: bench.store).verify(
            manifestBytes: version.manifestBytes, signature: signature, expected: nil, files: .folder(folder)
        )
        #expect(pulled.passed, "\(pulled.failures)")
        #expect(throws: EngineError.self) { try version.pull(from: bench.workspace.artifacts, to: folder) }

        // Running the pipeline again publishes nothing new: the model and card are the same.
        let again = try await bench.store.submit(
            try bench.submission(try String(contentsOfFile: "\(TestBench.projectRoot)/pipelines/iris-classifier.yaml", encoding: .utf8),
                                 parameters: [("epochs", "20"), ("min_accuracy", "0.5")]),
            now: Date().timeIntervalSince1970
        ).runID
        let second = try await bench.runToEnd(again)
        #expect(second["publish"]?.snapshot.state == .succeeded)
        #expect(second["publish"]?.cacheHit == false)
        #expect(try await bench.store.marketVersions(name: "iris-mlp").count == 1)
    }

    @Test func tamperingWithAFileTheManifestOrTheSignatureIsNamed() async throws {
        let (bench, _) = try await Self.publishedIris()
        defer { bench.remove() }
        let version = try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@1.0.0"))
        let manifest = try version.manifest()

        // A stored file changed on disk.
        let metrics = try #require(manifest.files.first { $0.role == "metrics" })
        let path = bench.workspace.artifacts.path(of: metrics.sha256)
        chmod(path, 0o644)
        try Data("{\"accuracy\": 1.0}\n".utf8).write(to: URL(fileURLWithPath: path))
        var report = await Self.verify(bench, version)
        #expect(report.failures.map(\.subject) == ["file metrics.json"])
        #expect(report.failures.first?.message.contains("the file was changed") == true)

        // The manifest edited (its bytes no longer the id, the signature no longer theirs).
        var edited = version
        edited.manifestBytes = Data(String(decoding: version.manifestBytes, as: UTF8.self).replacingOccurrences(of: "\"price\":0", with: "\"price\":5").utf8)
        #expect(edited.manifestBytes != version.manifestBytes)
        report = await Self.verify(bench, edited)
        #expect(Set(report.failures.map(\.subject)).isSuperset(of: ["manifest", "signature"]))

        // A signature by another key.
        let mallory = try KeyRing(folder: "\(bench.folder)/other-keys").create(name: "mallory")
        var forged = version
        forged.signature = try mallory.sign(version.manifestBytes).base64EncodedString()
        report = await Self.verify(bench, forged)
        #expect(report.failures.map(\.subject) == ["signature", "file metrics.json"])
        #expect(report.failures.first?.message.contains("not a valid Ed25519 signature") == true)
        // ... or re-signed whole with it: valid, but not by the publisher the manifest names.
        forged.publicKey = mallory.publicKey.base64
        report = await Self.verify(bench, forged)
        #expect(report.failures.first?.message.contains("not the publisher's key") == true)
        // And a key required by the reader.
        let required = await Verifier(store: bench.store, registry: bench.store).verify(
            manifestBytes: version.manifestBytes, signature: version.signatureRecord, expected: nil,
            files: .artifacts(bench.workspace.artifacts), trustedKey: mallory.publicKey
        )
        #expect(required.failures.contains { $0.subject == "signature" && $0.message.contains("not by the key required") })

        // A run's record that no longer matches the lineage is named, link by link.
        let runID = try #require(manifest.lineage?.run)
        try await bench.store.pool.write { db in
            try db.execute(sql: "UPDATE runs SET params = '{}' WHERE id = ?", arguments: [runID])
            try db.execute(sql: "DELETE FROM artifacts WHERE direction = 'in' AND name = 'path'")
        }
        report = await Self.verify(bench, version)
        let lineage = report.failures.filter { $0.subject == "lineage" }.map(\.message)
        #expect(lineage.count == 2, "\(lineage)")
        #expect(lineage.contains { $0.hasPrefix("the run's parameters are {}") })
        #expect(lineage.contains { $0.hasPrefix("prep did not read datasets/iris.csv") })

        // The store itself refuses to change or delete a published version.
        await #expect(throws: (any Error).self) {
            try await bench.store.pool.write { db in
                try db.execute(sql: "UPDATE market_versions SET manifest = x'00' WHERE name = 'iris-mlp'")
            }
        }
        await #expect(throws: (any Error).self) {
            try await bench.store.pool.write { db in try db.execute(sql: "DELETE FROM market_versions") }
        }
    }

    @Test func versionsAreImmutableYankedNotDeletedAndAliasesMoveOnRecord() async throws {
        let (bench, runID) = try await Self.publishedIris()
        defer { bench.remove() }
        let publisher = Publisher(registry: bench.store, store: bench.store, workspace: bench.workspace)
        let tasks = try await bench.tasks(runID)
        let model = try bench.workspace.artifacts.verifiedPath(try #require(tasks["train"]?.outputs.first { $0.name == "model" }).digest)
        let scaler = try bench.workspace.artifacts.verifiedPath(try #require(tasks["scale"]?.outputs.first { $0.name == "scaler" }).digest)
        _ = scaler

        // A new card raises the patch number; the same card again adds nothing.
        var request = Publisher.Request(name: "iris-mlp", model: model, description: "second", tags: ["iris"])
        let (second, created) = try await publisher.publish(request)
        #expect(created && second.version == "1.0.1")
        #expect(try await publisher.publish(request).created == false)
        #expect(try await bench.store.resolve(try MarketReference(parsing: "iris-mlp")).version == "1.0.1")

        // A taken number with other content is refused.
        request.version = "1.0.0"
        request.description = "different"
        await #expect(throws: MarketConflict.self) { try await publisher.publish(request) }
        request.version = "2.0"
        await #expect(throws: EngineError.self) { try await publisher.publish(request) }

        // The name belongs to the key that signed its first version.
        try KeyRing(folder: bench.workspace.keysFolder).create(name: "mallory")
        var other = Publisher.Request(name: "iris-mlp", model: model, description: "not alice's", tags: ["iris"])
        other.key = "mallory"
        let taken = await #expect(throws: EngineError.self) { try await publisher.publish(other) }
        #expect(taken?.description.hasPrefix("the name 'iris-mlp' belongs to the key that signed iris-mlp@1.0.0, its first version (ed25519:") == true)
        other.name = "iris-mlp-mallory"
        #expect(try await publisher.publish(other).version.version == "1.0.0")

        // Aliases move, and each move is recorded.
        let move = try await bench.store.moveAlias(name: "iris-mlp", alias: "production", to: "1.0.0", reason: "alias", now: 10)
        #expect(move.from == nil && move.to == "1.0.0")
        _ = try await bench.store.moveAlias(name: "iris-mlp", alias: "production", to: "1.0.1", reason: "alias", now: 20)
        #expect(try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@production")).version == "1.0.1")

        // Yanking 1.0.1 moves latest and production back to 1.0.0; 1.0.1 stays readable by number.
        try await bench.store.yank(name: "iris-mlp", version: "1.0.1", reason: "wrong card", now: 30)
        #expect(try await bench.store.resolve(try MarketReference(parsing: "iris-mlp")).version == "1.0.0")
        #expect(try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@production")).version == "1.0.0")
        let yanked = try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@1.0.1"))
        #expect(yanked.isYanked && yanked.yankReason == "wrong card")
        await #expect(throws: EngineError.self) { try await bench.store.yank(name: "iris-mlp", version: "1.0.1", reason: "again", now: 40) }
        await #expect(throws: EngineError.self) {
            _ = try await bench.store.moveAlias(name: "iris-mlp", alias: "production", to: "1.0.1", reason: "alias", now: 50)
        }
        let moves = try await bench.store.aliasMoves(name: "iris-mlp").map { "\($0.alias) \($0.from ?? "-")->\($0.to) \($0.reason)" }
        #expect(moves == [
            "latest -->1.0.0 publish", "latest 1.0.0->1.0.1 publish", "production -->1.0.0 alias", "production 1.0.0->1.0.1 alias",
            "latest 1.0.1->1.0.0 yank", "production 1.0.1->1.0.0 yank",
        ])
        // A yanked number is never given again.
        request.version = nil
        request.description = "third"
        #expect(try await publisher.publish(request).version.version == "1.0.2")
        // Unknown names, versions and aliases say what there is.
        await #expect(throws: EngineError.self) { try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@9.9.9")) }
        await #expect(throws: EngineError.self) { try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@staging")) }
        await #expect(throws: EngineError.self) { try await bench.store.resolve(try MarketReference(parsing: "nope")) }
        #expect(throws: EngineError.self) { try MarketReference(parsing: "Bad Name") }
    }

    @Test func searchFiltersByWordsTagTaskLicenceAndMetric() async throws {
        let (bench, runID) = try await Self.publishedIris()
        defer { bench.remove() }
        let tasks = try await bench.tasks(runID)
        let model = try bench.workspace.artifacts.verifiedPath(try #require(tasks["train"]?.outputs.first { $0.name == "model" }).digest)
        let metrics = try bench.workspace.artifacts.verifiedPath(try #require(tasks["evaluate"]?.outputs.first { $0.name == "metrics" }).digest)
        let publisher = Publisher(registry: bench.store, store: bench.store, workspace: bench.workspace)
        _ = try await publisher.publish(.init(name: "flowers", model: model, metrics: metrics, description: "Tells flowers apart", license: "MIT", tags: ["botany"], price: 12))
        let accuracy = try #require(try Metrics.read(metrics)["accuracy"])

        func names(_ configure: (inout MarketQuery) throws -> Void) async throws -> [String] {
            var query = MarketQuery()
            try configure(&query)
            return try await query.run(on: bench.store).map(\.version.reference)
        }
        #expect(try await names { _ in } == ["flowers@1.0.0", "iris-mlp@1.0.0"])
        #expect(try await names { $0.words = ["FLOWERS"] } == ["flowers@1.0.0"])
        #expect(try await names { $0.tags = ["tabular"] } == ["iris-mlp@1.0.0"])
        #expect(try await names { $0.license = "mit" } == ["flowers@1.0.0"])
        #expect(try await names { $0.task = "regression" } == [])
        #expect(try await names { $0.metrics = [try .init(parsing: "accuracy>=\(accuracy)")] } == ["flowers@1.0.0", "iris-mlp@1.0.0"])
        #expect(try await names { $0.metrics = [try .init(parsing: "accuracy>\(accuracy)")] } == [])
        #expect(throws: EngineError.self) { try MarketQuery.MetricFilter(parsing: "accuracy>>") }
        try await bench.store.yank(name: "flowers", version: "1.0.0", reason: "test", now: 1)
        #expect(try await names { _ in } == ["iris-mlp@1.0.0"])
        #expect(try await names { $0.includeYanked = true } == ["flowers@1.0.0", "iris-mlp@1.0.0"])
        // A model published from a file has no lineage, and verify says so without failing.
        let version = try await bench.store.resolve(try MarketReference(parsing: "flowers@1.0.0"))
        let report = await Self.verify(bench, version)
        #expect(report.passed)
        #expect(report.checks.contains { $0.subject == "lineage" && $0.result == .skipped })
    }

    @Test func publishingRefusesBadNamesLicencesAndAMissingKey() async throws {
        let bench = try TestBench()
        defer { bench.remove() }
        let publisher = Publisher(registry: bench.store, store: bench.store, workspace: bench.workspace)
        let model = "\(bench.folder)/nothing.h5"
        await #expect(throws: EngineError.self) { try await publisher.publish(.init(name: "Iris MLP", model: model)) }
        await #expect(throws: EngineError.self) { try await publisher.publish(.init(name: "iris", model: model, license: "not a licence!")) }
        await #expect(throws: EngineError.self) { try await publisher.publish(.init(name: "iris", model: model, price: -1)) }
        do {
            _ = try await publisher.publish(.init(name: "iris", model: model))
            Issue.record("published without a key")
        } catch {
            #expect("\(error)".contains("blacktail keys new"))
        }
    }

    @Test func aMarketModelIsAPinnedInputOfAPipeline() async throws {
        let (bench, _) = try await Self.publishedIris()
        defer { bench.remove() }
        let version = try await bench.store.resolve(try MarketReference(parsing: "iris-mlp@1.0.0"))
        let digest = try #require(try version.manifest().modelFile?.sha256)
        let yaml = """
            version: 1
            name: evaluate-published
            steps:
              prep:
                uses: data/import-csv
                with: { path: datasets/iris.csv, label: species, task: classification }
              evaluate:
                uses: eval/classification
                with:
                  model: ${{ market.iris-mlp@1.0.0 }}
                  data: ${{ steps.prep.outputs.dataset }}
              vote:
                uses: model/vote
                with:
                  models:
                    - ${{ market.iris-mlp@1.0.0 }}
                    - ${{ market.iris-mlp }}
            """
        #expect(MarketModels.references(in: yaml) == ["iris-mlp@1.0.0", "iris-mlp"])
        let pin = MarketModels.Resolution.pinned(.init(reference: "iris-mlp@1.0.0", sha256: digest))
        let plan = try bench.plan(yaml, market: ["iris-mlp@1.0.0": pin, "iris-mlp": pin])
        #expect(plan.nodes.map(\.id).contains("market:iris-mlp@1.0.0"))
        #expect(plan.node("evaluate")?.needs.contains("market:iris-mlp@1.0.0") == true)
        // The digest is part of the key of every node that uses the model.
        let zero = MarketModels.Resolution.pinned(.init(reference: "iris-mlp@1.0.0", sha256: String(repeating: "0", count: 64)))
        let other = try bench.plan(yaml, market: ["iris-mlp@1.0.0": zero, "iris-mlp": zero])
        #expect(other.node("evaluate")?.key != plan.node("evaluate")?.key)

        let runID = try await bench.store.submit(try bench.submission(yaml, market: ["iris-mlp@1.0.0": pin, "iris-mlp": pin]), now: Date().timeIntervalSince1970).runID
        let tasks = try await bench.runToEnd(runID)
        #expect(tasks.values.allSatisfy { $0.snapshot.state == .succeeded }, "\(tasks.values.compactMap(\.snapshot.message))")
        #expect(tasks["market:iris-mlp@1.0.0"]?.outputs.first?.digest == digest)
        #expect(tasks["evaluate"]?.inputs.contains { $0.digest == digest && $0.source == "market:iris-mlp@1.0.0.model" } == true)

        // A reference the market does not resolve is an error at its place in the file.
        let path = "\(bench.folder)/unresolved.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        var compiler = PipelineCompiler(signatures: BuiltinOps.catalogue.signatures)
        compiler.marketModels = ["iris-mlp@1.0.0": .failed("the market has no iris-mlp@1.0.0"), "iris-mlp": pin]
        let compilation = compiler.compile(path: path)
        #expect(compilation.plan == nil)
        #expect(compilation.diagnostics.contains { $0.code == "market" && $0.message.contains("the market has no iris-mlp@1.0.0") && $0.range?.start.line == 10 })
    }
}

@Suite struct SemanticVersionTests {
    @Test func parsesAndOrdersAsTheSpecificationSays() throws {
        #expect(SemanticVersion("1.2.3")?.description == "1.2.3")
        #expect(SemanticVersion("1.0.0-rc.1+build.5")?.prerelease == ["rc", "1"])
        for bad in ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1..0", "", "1.0.0+"] {
            #expect(SemanticVersion(bad) == nil, "\(bad)")
        }
        let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
        let versions = ordered.compactMap(SemanticVersion.init)
        #expect(versions.count == ordered.count)
        #expect(versions.shuffled().sorted() == versions)
        #expect(SemanticVersion("1.2.3")!.nextPatch.description == "1.2.4")
        #expect(SemanticVersion("1.2.0-rc.1")!.nextPatch.description == "1.2.0")
    }
}
