import BlacktailData
import BlacktailOps
import Foundation
import Logging
import PipelineLanguage
import Testing

/// The data ops run as the engine will run them: arguments resolved as the plan resolves them.
@Suite struct DataOpTests {
    /// Runs an op whose outputs are all datasets or checkpoints (.h5 files).
    private func run(
        _ name: String,
        _ arguments: [String: OpContext.Argument],
        outputs: [String],
        in scratch: Scratch,
        prefix: String
    ) async throws -> [String: String] {
        try await runOp(name, arguments, outputs: Dictionary(uniqueKeysWithValues: outputs.map { ($0, "h5") }), in: scratch, prefix: prefix)
    }

    @Test func importSplitNormaliseChain() async throws {
        let scratch = try Scratch()
        let imported = try await run(
            "data/import-csv", ["path": .value(.string(datasetPath("wine.csv"))), "label": .value(.string("cultivar"))],
            outputs: ["dataset"], in: scratch, prefix: "import"
        )
        let split = try await run(
            "data/split", ["input": .path(imported["dataset"]!), "train": .value(.float(0.7)), "validation": .value(.float(0.1)), "test": .value(.float(0.2))],
            outputs: ["train", "validation", "test"], in: scratch, prefix: "split"
        )
        let train = try DatasetFile.read(split["train"]!)
        #expect(train.rowCount + (try DatasetFile.read(split["validation"]!).rowCount) + (try DatasetFile.read(split["test"]!).rowCount) == 178)
        #expect(train.provenance.createdBy == "data/split@1")
        #expect(train.provenance.sourceSHA256 == (try DatasetFile.sha256(ofFile: imported["dataset"]!)))
        #expect(train.provenance.source == "wine.csv")

        let scaled = try await run(
            "data/normalize", ["train": .path(split["train"]!), "test": .path(split["test"]!)],
            outputs: ["train", "validation", "test", "scaler"], in: scratch, prefix: "scale"
        )
        #expect(try DatasetFile.read(scaled["validation"]!).rowCount == 0)
        let scaler = try #require(try CheckpointFile.readPreprocessing(scaled["scaler"]!))
        #expect(scaler.featureNames == train.featureNames)
        #expect(try DatasetFile.read(scaled["test"]!) == (try scaler.apply(to: try DatasetFile.read(split["test"]!))).withProvenance(of: try DatasetFile.read(scaled["test"]!)))

        // The same inputs give the same bytes.
        let again = try await run(
            "data/split", ["input": .path(imported["dataset"]!), "train": .value(.float(0.7)), "validation": .value(.float(0.1)), "test": .value(.float(0.2))],
            outputs: ["train", "validation", "test"], in: scratch, prefix: "again"
        )
        #expect(try DatasetFile.sha256(ofFile: again["train"]!) == DatasetFile.sha256(ofFile: split["train"]!))
    }

    @Test func generateSampleShuffleSelect() async throws {
        let scratch = try Scratch()
        let generated = try await run(
            "data/generate", ["kind": .value(.string("blobs")), "rows": .value(.int(300)), "features": .value(.int(4)), "classes": .value(.int(3))],
            outputs: ["dataset"], in: scratch, prefix: "gen"
        )
        let source = try DatasetFile.read(generated["dataset"]!)
        #expect(source.rowCount == 300)
        let sampled = try await run("data/sample", ["input": .path(generated["dataset"]!), "fraction": .value(.float(0.1))], outputs: ["dataset"], in: scratch, prefix: "sample")
        #expect(try DatasetFile.read(sampled["dataset"]!).rowCount == 30)
        let shuffled = try await run("data/shuffle", ["input": .path(generated["dataset"]!)], outputs: ["dataset"], in: scratch, prefix: "shuffle")
        let permuted = try DatasetFile.read(shuffled["dataset"]!)
        #expect(permuted.features != source.features)
        #expect(permuted.features.sorted() == source.features.sorted())
        let selected = try await run(
            "data/select-features", ["input": .path(generated["dataset"]!), "features": .value(.list([.string("x3"), .string("x0")]))],
            outputs: ["dataset"], in: scratch, prefix: "select"
        )
        let kept = try DatasetFile.read(selected["dataset"]!)
        #expect(kept.featureNames == ["x3", "x0"])
        #expect(Array(kept.row(0)) == [source.features[3], source.features[0]])
        await #expect(throws: OpError.self) {
            _ = try await run(
                "data/select-features", ["input": .path(generated["dataset"]!), "features": .value(.list([.string("nope")]))],
                outputs: ["dataset"], in: scratch, prefix: "bad"
            )
        }
    }

    @Test func everyImplementationHasItsDeclaredSignature() {
        for entry in BuiltinOps.catalogue.entries {
            if let implementation = entry.implementation {
                #expect(implementation.signature.name == entry.signature.name)
            }
        }
        #expect(BuiltinOps.catalogue.entries.filter(\.isRunnable).map(\.signature.name).sorted() == [
            "data/generate", "data/import-csv", "data/mask-labels", "data/normalize", "data/sample", "data/select-classes",
            "data/select-features", "data/shuffle", "data/split",
            "eval/classification", "eval/clustering", "eval/regression", "eval/rl", "market/model", "model/predict", "model/select-best", "model/vote",
            "train/boosted", "train/finetune", "train/forest", "train/kmeans", "train/label-propagation", "train/linear", "train/logistic",
            "train/mlp", "train/pca", "train/policy-gradient", "train/q-learning", "train/self-training", "train/tree",
        ])
    }
}

extension Dataset {
    /// The dataset with another's provenance, to compare contents only.
    func withProvenance(of other: Dataset) -> Dataset {
        var copy = self
        copy.provenance = other.provenance
        return copy
    }
}
