import BlacktailData
import BlacktailOps
import Foundation
import Frameworks
import HDF5
import Logging
import PipelineLanguage
import Testing

/// The flagship pipeline's steps, run op by op as the engine will run them.
@Suite struct ModelOpTests {
    @Test func importSplitScaleTrainEvaluatePredict() async throws {
        let scratch = try Scratch()
        let imported = try await runOp(
            "data/import-csv", ["path": .value(.string(datasetPath("iris.csv"))), "label": .value(.string("species"))],
            outputs: ["dataset": "h5"], in: scratch, prefix: "import"
        )
        let split = try await runOp("data/split", ["input": .path(imported["dataset"]!)], outputs: ["train": "h5", "validation": "h5", "test": "h5"], in: scratch, prefix: "split")
        let scaled = try await runOp(
            "data/normalize", ["train": .path(split["train"]!), "test": .path(split["test"]!)],
            outputs: ["train": "h5", "validation": "h5", "test": "h5", "scaler": "h5"], in: scratch, prefix: "scale"
        )
        let trained = try await runOp(
            "train/logistic", ["train": .path(scaled["train"]!), "preprocessing": .path(scaled["scaler"]!)],
            outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "train"
        )
        let (trained_, info, state) = try Checkpoint.read(trained["model"]!)
        guard case .network(let model) = trained_ else { Issue.record("a network expected"); return }
        #expect(state?.epoch == 100)
        #expect(info.framework == "logistic")
        #expect(info.classes == ["setosa", "versicolor", "virginica"])
        #expect(info.preprocessing != nil)
        #expect(info.createdBy == "train/logistic@1")
        #expect(model.widths == [4, 3])
        #expect(try Metrics.read(trained["metrics"]!)["train_accuracy"]! > 0.9)
        // A scaler is a checkpoint, but not a model to evaluate.
        let scalerError = thrownDescription { _ = try Checkpoint.read(scaled["scaler"]!) }
        #expect(scalerError == "\(scaled["scaler"]!): is a 'preprocessing' checkpoint, not a trained model")

        let evaluated = try await runOp(
            "eval/classification", ["model": .path(trained["model"]!), "data": .path(scaled["test"]!), "min_accuracy": .value(.float(0.9))],
            outputs: ["metrics": "json"], in: scratch, prefix: "eval"
        )
        let metrics = try Metrics.read(evaluated["metrics"]!)
        #expect(metrics["accuracy"]! >= 0.93)
        #expect(metrics["rows"] == 30)

        // A gate names the metric and both values.
        await #expect {
            _ = try await runOp(
                "eval/classification", ["model": .path(trained["model"]!), "data": .path(scaled["test"]!), "min_accuracy": .value(.float(1.01))],
                outputs: ["metrics": "json"], in: scratch, prefix: "gate"
            )
        } throws: { error in
            "\(error)".contains("accuracy is \(metrics["accuracy"]!), below the required 1.01 ('min_accuracy')")
        }

        // Predictions on the raw test rows apply the saved scaling, and agree with the evaluation.
        let predicted = try await runOp(
            "model/predict", ["model": .path(trained["model"]!), "data": .path(split["test"]!)],
            outputs: ["predictions": "h5"], in: scratch, prefix: "predict"
        )
        let predictions = try DatasetFile.read(predicted["predictions"]!)
        let truth = try DatasetFile.read(split["test"]!).classIDs!
        let correct = zip(predictions.classIDs!, truth).count { $0 == $1 }
        #expect(Double(correct) / Double(truth.count) == metrics["accuracy"])
        let probabilities = try HDF5File.withFile(at: predicted["predictions"]!) { file in try file.root.dataset("probabilities").shape }
        #expect(probabilities == [30, 3])

        // Training again gives the same checkpoint, byte for byte.
        let again = try await runOp(
            "train/logistic", ["train": .path(scaled["train"]!), "preprocessing": .path(scaled["scaler"]!)],
            outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "again"
        )
        #expect(try DatasetFile.sha256(ofFile: again["model"]!) == DatasetFile.sha256(ofFile: trained["model"]!))
    }

    @Test func ridgeRegressionOnDiabetes() async throws {
        let scratch = try Scratch()
        let imported = try await runOp(
            "data/import-csv", ["path": .value(.string(datasetPath("diabetes.csv"))), "label": .value(.string("progression")), "task": .value(.string("regression"))],
            outputs: ["dataset": "h5"], in: scratch, prefix: "import"
        )
        let split = try await runOp("data/split", ["input": .path(imported["dataset"]!), "stratify": .value(.bool(false))], outputs: ["train": "h5", "validation": "h5", "test": "h5"], in: scratch, prefix: "split")
        let scaled = try await runOp(
            "data/normalize", ["train": .path(split["train"]!), "test": .path(split["test"]!)],
            outputs: ["train": "h5", "validation": "h5", "test": "h5", "scaler": "h5"], in: scratch, prefix: "scale"
        )
        let trained = try await runOp("train/linear", ["train": .path(scaled["train"]!), "l2": .value(.float(1))], outputs: ["model": "h5"], in: scratch, prefix: "train")
        let evaluated = try await runOp(
            "eval/regression", ["model": .path(trained["model"]!), "data": .path(scaled["test"]!), "min_r2": .value(.float(0.4))],
            outputs: ["metrics": "json"], in: scratch, prefix: "eval"
        )
        let metrics = try Metrics.read(evaluated["metrics"]!)
        #expect(metrics["r2"]! >= 0.40)
        #expect(metrics["rmse"]! > 0)
        // A classifier's evaluation refuses a regression model.
        await #expect(throws: OpError.self) {
            _ = try await runOp("eval/classification", ["model": .path(trained["model"]!), "data": .path(scaled["test"]!)], outputs: ["metrics": "json"], in: scratch, prefix: "wrong")
        }
    }
}

/// The description of what `body` throws, or nil.
func thrownDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}
