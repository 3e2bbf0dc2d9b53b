import BlacktailData
import BlacktailOps
import Foundation
import Frameworks
import HDF5
import Logging
import PipelineLanguage
import Testing

/// The semi-supervised, transfer and voting ops, and the data ops they lean on, run op by op.
@Suite struct FamilyOpTests {
    /// Wine, imported, split 80/20 and scaled: the paths of train, test and the scaler.
    func preparedWine(_ scratch: Scratch) async throws -> (train: String, test: String, scaler: String) {
        let imported = try await runOp(
            "data/import-csv", ["path": .value(.string(datasetPath("wine.csv"))), "label": .value(.string("cultivar"))],
            outputs: ["dataset": "h5"], in: scratch, prefix: "import"
        )
        let split = try await runOp("data/split", ["input": .path(imported["dataset"]!)], outputs: ["train": "h5", "validation": "h5", "test": "h5"], in: scratch, prefix: "split")
        let scaled = try await runOp(
            "data/normalize", ["train": .path(split["train"]!), "test": .path(split["test"]!)],
            outputs: ["train": "h5", "validation": "h5", "test": "h5", "scaler": "h5"], in: scratch, prefix: "scale"
        )
        return (scaled["train"]!, scaled["test"]!, scaled["scaler"]!)
    }

    @Test func maskLabelsKeepsAStratifiedShareAndSelectClassesRenumbers() async throws {
        let scratch = try Scratch()
        let wine = try await preparedWine(scratch)
        let masked = try await runOp(
            "data/mask-labels", ["input": .path(wine.train), "labelled": .value(.float(0.25))], outputs: ["dataset": "h5"], in: scratch, prefix: "mask"
        )
        let original = try DatasetFile.read(wine.train).classIDs!
        let ids = try DatasetFile.read(masked["dataset"]!).classIDs!
        let kept = ids.indices.filter { ids[$0] >= 0 }
        #expect(abs(Double(kept.count) - 0.25 * Double(ids.count)) <= 2)
        #expect(kept.allSatisfy { ids[$0] == original[$0] })
        for k in 0..<3 { #expect(kept.contains { ids[$0] == k }) }

        let selected = try await runOp(
            "data/select-classes", ["input": .path(wine.train), "classes": .value(.list([.string("class_2"), .string("class_0")]))],
            outputs: ["dataset": "h5"], in: scratch, prefix: "select"
        )
        let two = try DatasetFile.read(selected["dataset"]!)
        #expect(two.classes == ["class_2", "class_0"])
        #expect(two.rowCount == original.count { $0 == 2 || $0 == 0 })
        #expect(Set(two.classIDs!) == [0, 1])
        let unknown = await thrownDescription {
            _ = try await runOp(
                "data/select-classes", ["input": .path(wine.train), "classes": .value(.list([.string("class_3")]))],
                outputs: ["dataset": "h5"], in: scratch, prefix: "unknown"
            )
        }
        #expect(unknown == "data/select-classes: \(wine.train) has no class 'class_3'; its classes are class_0, class_1, class_2")
        let none = await thrownDescription {
            _ = try await runOp(
                "data/select-classes", ["input": .path(wine.train), "classes": .value(.list([]))], outputs: ["dataset": "h5"], in: scratch, prefix: "none"
            )
        }
        #expect(none == "data/select-classes: 'classes' is empty; name at least one class to keep")
    }

    @Test func semiSupervisedOpsTrainOnPartlyLabelledData() async throws {
        let scratch = try Scratch()
        let wine = try await preparedWine(scratch)
        let masked = try await runOp(
            "data/mask-labels", ["input": .path(wine.train), "labelled": .value(.float(0.3))], outputs: ["dataset": "h5"], in: scratch, prefix: "mask"
        )
        for (op, prefix, base) in [("train/self-training", "self", "logistic"), ("train/self-training", "self-forest", "forest"), ("train/label-propagation", "propagation", "")] {
            var arguments: [String: OpContext.Argument] = ["train": .path(masked["dataset"]!), "preprocessing": .path(wine.scaler)]
            if !base.isEmpty { arguments["base"] = .value(.string(base)) }
            let trained = try await runOp(op, arguments, outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: prefix)
            let evaluated = try await runOp(
                "eval/classification", ["model": .path(trained["model"]!), "data": .path(wine.test)], outputs: ["metrics": "json"], in: scratch, prefix: "\(prefix)-eval"
            )
            let accuracy = try Metrics.read(evaluated["metrics"]!)["accuracy"]!
            #expect(accuracy >= 0.85, "\(prefix): \(accuracy)")
            // Predictions on raw rows apply the saved scaling.
            let predicted = try await runOp(
                "model/predict", ["model": .path(trained["model"]!), "data": .path(wine.test)], outputs: ["predictions": "h5"], in: scratch, prefix: "\(prefix)-predict"
            )
            #expect(try DatasetFile.read(predicted["predictions"]!).rowCount == 36)
        }
        let metrics = try Metrics.read(scratch.path("self-metrics.json"))
        #expect(metrics["pseudo_labelled"]! > 50)
    }

    @Test func treeOpsTrainEvaluateAndPredict() async throws {
        let scratch = try Scratch()
        let wine = try await preparedWine(scratch)
        for (op, arguments) in [
            ("train/tree", ["max_depth": OpContext.Argument.value(.int(4))]),
            ("train/forest", ["trees": .value(.int(25)), "max_features": .value(.string("0.5"))]),
            ("train/boosted", ["iterations": .value(.int(30)), "validation": .path(wine.test)]),
        ] {
            let prefix = String(op.dropFirst("train/".count))
            let trained = try await runOp(
                op, arguments.merging(["train": .path(wine.train), "preprocessing": .path(wine.scaler)]) { $1 },
                outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: prefix
            )
            let (model, info, _) = try Checkpoint.read(trained["model"]!)
            guard case .trees(let ensemble) = model else { Issue.record("\(op) wrote a \(model.structure) model"); continue }
            #expect(info.framework == prefix)
            #expect(try Metrics.read(trained["metrics"]!)["trees"] == Double(ensemble.trees.count))
            let evaluated = try await runOp(
                "eval/classification", ["model": .path(trained["model"]!), "data": .path(wine.test)], outputs: ["metrics": "json"], in: scratch, prefix: "\(prefix)-eval"
            )
            let accuracy = try Metrics.read(evaluated["metrics"]!)["accuracy"]!
            #expect(accuracy >= (op == "train/tree" ? 0.8 : 0.9), "\(op): \(accuracy)")
            // The raw test rows, scaled by the model's saved preprocessing, get the same classes.
            let predicted = try await runOp(
                "model/predict", ["model": .path(trained["model"]!), "data": .path(wine.test)], outputs: ["predictions": "h5"], in: scratch, prefix: "\(prefix)-predict"
            )
            #expect(try DatasetFile.read(predicted["predictions"]!).rowCount == 36)
        }
        let badShare = await thrownDescription {
            _ = try await runOp(
                "train/forest", ["train": .path(wine.train), "max_features": .value(.string("most"))], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "bad"
            )
        }
        #expect(badShare == "train/forest: max_features is 'most'; give all, sqrt, log2, a count of features or a share in (0, 1]")
    }

    @Test func fineTuneAndVote() async throws {
        let scratch = try Scratch()
        let wine = try await preparedWine(scratch)
        let mlp = try await runOp(
            "train/mlp", ["train": .path(wine.train), "preprocessing": .path(wine.scaler), "epochs": .value(.int(30))],
            outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "mlp"
        )
        let logistic = try await runOp(
            "train/logistic", ["train": .path(wine.train), "preprocessing": .path(wine.scaler)], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "logistic"
        )
        let tuned = try await runOp(
            "train/finetune", ["base": .path(mlp["model"]!), "train": .path(wine.train), "validation": .path(wine.test), "freeze": .value(.int(1))],
            outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "tune"
        )
        let (_, info, _) = try Checkpoint.read(tuned["model"]!)
        #expect(info.framework == "finetune")
        #expect(info.parentSHA256 == (try DatasetFile.sha256(ofFile: mlp["model"]!)))
        #expect(info.preprocessing != nil)
        // The head is the only layer to train; freezing it too is refused.
        let frozen = await thrownDescription {
            _ = try await runOp(
                "train/finetune", ["base": .path(mlp["model"]!), "train": .path(wine.train), "freeze": .value(.int(2))],
                outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "frozen"
            )
        }
        #expect(frozen?.contains("freezing 2 layers leaves nothing to train") == true)

        let vote = try await runOp(
            "model/vote", ["models": .paths([mlp["model"]!, logistic["model"]!, tuned["model"]!]), "voting": .value(.string("hard"))],
            outputs: ["model": "h5"], in: scratch, prefix: "vote"
        )
        let evaluated = try await runOp(
            "eval/classification", ["model": .path(vote["model"]!), "data": .path(wine.test)], outputs: ["metrics": "json"], in: scratch, prefix: "vote-eval"
        )
        #expect(try Metrics.read(evaluated["metrics"]!)["accuracy"]! >= 0.93)
        // A clustering model cannot vote.
        let kmeans = try await runOp("train/kmeans", ["train": .path(wine.train), "k": .value(.int(3))], outputs: ["model": "h5"], in: scratch, prefix: "kmeans")
        let refused = await thrownDescription {
            _ = try await runOp("model/vote", ["models": .paths([mlp["model"]!, kmeans["model"]!])], outputs: ["model": "h5"], in: scratch, prefix: "bad-vote")
        }
        #expect(refused == "model/vote: member 1 (kmeans) is not a classifier or regressor")
    }

    @Test func reinforcementOpsLearnEvaluateAndSayWhatDoesNotFit() async throws {
        let scratch = try Scratch()
        let grid = try await runOp(
            "train/q-learning", ["size": .value(.int(3)), "episodes": .value(.int(300))], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "grid"
        )
        let (model, info, _) = try Checkpoint.read(grid["model"]!)
        guard case .qTable(let table) = model else { Issue.record("a Q-table expected, not \(model.structure)"); return }
        #expect(table.states == 9 && info.task == .reinforcement)
        #expect(info.environment == EnvironmentSpec(name: "grid-world", options: ["size": 3, "slip": 0, "max_steps": 100]))
        let returns = try Metrics.read(grid["metrics"]!)
        #expect(returns["episodes"] == 100 && returns["mean_return"]! <= -1)

        let evaluated = try await runOp("eval/rl", ["model": .path(grid["model"]!), "episodes": .value(.int(10))], outputs: ["metrics": "json"], in: scratch, prefix: "evaluate")
        #expect(try Metrics.read(evaluated["metrics"]!)["mean_return"] == returns["mean_return"])
        let gated = await thrownDescription {
            _ = try await runOp(
                "eval/rl", ["model": .path(grid["model"]!), "min_mean_return": .value(.float(0))], outputs: ["metrics": "json"], in: scratch, prefix: "gate"
            )
        }
        #expect(gated == "eval/rl at gate: mean_return is \(returns["mean_return"]!), below the required 0.0 ('min_mean_return')")
        // Another grid than the table's, a model that does not act, and a table given to predict.
        let otherGrid = await thrownDescription {
            _ = try await runOp(
                "eval/rl", ["model": .path(grid["model"]!), "environment": .value(.string("grid-world")), "size": .value(.int(4))],
                outputs: ["metrics": "json"], in: scratch, prefix: "other"
            )
        }
        #expect(otherGrid == "eval/rl: the Q-table has 9 states and 4 actions, but 'grid-world' has 16 states and 4 actions")
        let wine = try await preparedWine(scratch)
        let logistic = try await runOp(
            "train/logistic", ["train": .path(wine.train), "epochs": .value(.int(2))], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "logistic"
        )
        let notAgent = await thrownDescription {
            _ = try await runOp("eval/rl", ["model": .path(logistic["model"]!)], outputs: ["metrics": "json"], in: scratch, prefix: "not-agent")
        }
        #expect(notAgent == "eval/rl: \(logistic["model"]!) is a logistic model, not a reinforcement-learning one (it names no environment)")
        let predicted = await thrownDescription {
            _ = try await runOp("model/predict", ["model": .path(grid["model"]!), "data": .path(wine.test)], outputs: ["predictions": "h5"], in: scratch, prefix: "predict")
        }
        #expect(predicted == "model/predict: \(grid["model"]!) is a reinforcement-learning model, which acts in an environment rather than on data; evaluate it with eval/rl")
        // Q-learning needs discrete states.
        let continuous = await thrownDescription {
            _ = try await runOp(
                "train/q-learning", ["environment": .value(.string("cart-pole"))], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "cart"
            )
        }
        #expect(continuous == "train/q-learning: Q-learning needs an environment with discrete states, and 'cart-pole' has none; use the policy gradient")
    }
}

/// The description of what an async `body` throws, or nil.
func thrownDescription(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch {
        return "\(error)"
    }
}
