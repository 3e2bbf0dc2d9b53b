import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
public import PipelineLanguage

/// What the training, evaluation and prediction ops share.
enum ModelOpSupport {
    /// The op's value arguments, as a checkpoint's `/hyperparameters` stores them.
    static func hyperparameters(_ context: OpContext) -> [(String, HyperparameterValue)] {
        context.arguments.keys.sorted().compactMap { name in
            guard case .value(let value)? = context.arguments[name] else { return nil }
            let stored: HyperparameterValue? = switch value {
            case .int(let int): .int(Int64(int))
            case .float(let double): .double(double)
            case .bool(let bool): .int(bool ? 1 : 0)
            case .string(let string): .string(string)
            case .list(let items):
                if items.allSatisfy({ if case .int = $0 { true } else { false } }) {
                    .ints(items.compactMap { if case .int(let int) = $0 { Int64(int) } else { nil } })
                } else if items.allSatisfy({ $0.number != nil }) {
                    .doubles(items.compactMap(\.number))
                } else {
                    .strings(items.map(\.interpolated))
                }
            case .null: nil
            }
            return stored.map { (name, $0) }
        }
    }

    /// The scaler given as `preprocessing`, if any.
    static func preprocessing(_ context: OpContext) throws -> Scaler? {
        guard case .path(let path)? = context.arguments["preprocessing"] else { return nil }
        guard let scaler = try CheckpointFile.readPreprocessing(path) else {
            throw OpError("\(context.opName): \(path) holds no /preprocessing scaler")
        }
        return scaler
    }

    static func info(_ context: OpContext, framework: String, train: Dataset) throws -> ModelInfo {
        ModelInfo(
            framework: framework, task: ModelTask(train.task), featureNames: train.featureNames, classes: train.classes,
            targetName: train.targetName, hyperparameters: hyperparameters(context),
            createdBy: "\(context.opName)@\(BuiltinOps.signature(context.opName).version)",
            preprocessing: try preprocessing(context), blasThreads: context.threadBudget
        )
    }

    /// Reads a model checkpoint given as `argument`, or fails the step naming it.
    static func model(_ context: OpContext, _ argument: String = "model") throws -> (model: TrainedModel, info: ModelInfo, path: String) {
        let path = try context.inputPath(argument)
        let (model, info, _) = try Checkpoint.read(path)
        return (model, info, path)
    }

    /// What an evaluation op starts from: the classifier or regressor of its `model`, what it was
    /// made with, and its `data` as the model's inputs (already scaled, as the pipeline prepared it).
    static func evaluationInputs(_ context: OpContext) throws -> (model: any SupervisedModel, info: ModelInfo, data: Dataset, path: String, inputs: Matrix) {
        let (trained, info, modelPath) = try model(context)
        let model = try supervised(trained, context, path: modelPath)
        let (data, path) = try DataOpSupport.read(context, "data")
        return (model, info, data, path, try modelInputs(data, for: info, applyingPreprocessing: false, file: path))
    }

    /// The classifier or regressor inside a checkpoint, or an error for other kinds of model.
    static func supervised(_ model: TrainedModel, _ context: OpContext, path: String) throws -> any SupervisedModel {
        guard let supervised = model.supervised else {
            throw OpError("\(context.opName): \(path) is not a classifier or regressor (it is a \(model.structure) model)")
        }
        return supervised
    }

    /// A perceptron trainer with the optimisation arguments that train/mlp and train/finetune
    /// share: optimizer, learning rate and schedule, momentum, L2, minibatch, epochs, patience,
    /// loss and seed.
    static func perceptron(_ context: OpContext) throws -> MultilayerPerceptron {
        var trainer = MultilayerPerceptron()
        guard let optimizer = MultilayerPerceptron.Optimizer(rawValue: try context.string("optimizer")),
            let schedule = MultilayerPerceptron.Schedule(rawValue: try context.string("schedule"))
        else {
            throw OpError("\(context.opName): unknown optimizer or schedule")
        }
        trainer.optimizer = optimizer
        trainer.schedule = schedule
        let loss = try context.string("loss")
        trainer.loss = loss == "auto" ? nil : MultilayerPerceptron.Loss(rawValue: loss)
        trainer.learningRate = try context.double("learning_rate")
        trainer.momentum = try context.double("momentum")
        trainer.l2 = try context.double("l2")
        trainer.batchSize = try context.int("batch_size")
        trainer.epochs = try context.int("epochs")
        trainer.patience = try context.int("patience")
        trainer.seed = try DataOpSupport.seed(context)
        return trainer
    }

    /// Trains a network from `network` and `state`, then writes its checkpoint and its training
    /// metrics (with the epochs run and whether it stopped early).
    static func trainNetwork(
        _ trainer: MultilayerPerceptron, from network: DenseNetwork, state: TrainingState,
        train: Dataset, validation: Dataset?, path: String, info: ModelInfo, _ context: OpContext
    ) throws {
        let (model, finalState) = try trainer.train(
            train, validation: validation, from: network, state: state, file: path,
            report: epochReporter(context, epochs: trainer.epochs, rows: train.rowCount)
        )
        try Checkpoint.write(.network(model), info: info, state: finalState, to: try context.outputPath("model"))
        var metrics = trainingMetrics(model, train: train, validation: validation)
        metrics["epochs"] = Double(finalState.epoch)
        metrics["stopped_early"] = finalState.stopped ? 1 : 0
        try writeMetrics(metrics, context)
    }

    /// What a training reports after each epoch to the context's progress channel: loss, validation
    /// score, samples/s and the estimated time left. It also stops the training when the run is
    /// cancelled.
    static func epochReporter(_ context: OpContext, epochs total: Int, rows: Int) -> (MultilayerPerceptron.Epoch) throws -> Void {
        let started = Date()
        return { epoch in
            try context.checkCancellation()
            let elapsed = max(Date().timeIntervalSince(started), 1e-9)
            var metrics = [
                "loss": epoch.loss,
                "samples_per_second": Double(rows * epoch.epoch) / elapsed,
                "eta_seconds": elapsed / Double(epoch.epoch) * Double(total - epoch.epoch),
            ]
            metrics["validation_score"] = epoch.validationScore
            context.progress.report(ProgressUpdate(
                fraction: Double(epoch.epoch) / Double(max(total, 1)), epoch: epoch.epoch, totalEpochs: total, metrics: metrics
            ))
        }
    }

    /// A trained network's metrics on its training set and, when given, its validation set, named
    /// `train_…` and `validation_…` (classification without the confusion counts).
    static func trainingMetrics(_ model: any SupervisedModel, train: Dataset, validation: Dataset?) -> [String: Double] {
        var metrics: [String: Double] = [:]
        for (prefix, data) in [("train", train), ("validation", validation)] {
            guard let data else { continue }
            let outputs = model.outputs(data.featureMatrix)
            let measured: [String: Double] = switch data.targets {
            case .classes(let ids): Metrics.classification(probabilities: outputs, labels: ids).filter { !$0.key.hasPrefix("confusion_") }
            case .values(let targets): Metrics.regression(predictions: outputs.values.map(Double.init), targets: targets)
            }
            for (name, value) in measured { metrics["\(prefix)_\(name)"] = value }
        }
        return metrics
    }

    static func writeMetrics(_ metrics: [String: Double], _ context: OpContext) throws {
        try Metrics.json(metrics).write(toFile: try context.outputPath("metrics"), atomically: true, encoding: .utf8)
    }

    /// Fails the step when a metric is below its threshold, naming both values.
    static func gate(_ metrics: [String: Double], metric: String, argument: String, _ context: OpContext) throws {
        guard case .value(let threshold)? = context.arguments[argument], let minimum = threshold.number, let value = metrics[metric] else { return }
        if value < minimum {
            throw OpError("\(context.opName) at \(context.nodeID): \(metric) is \(value), below the required \(minimum) ('\(argument)')")
        }
    }
}

struct TrainLinearOp: Op {
    let signature = BuiltinOps.signature("train/linear")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (train, path) = try DataOpSupport.read(context, "train")
        let model = try LinearRegression.fit(train, l2: try context.double("l2"), file: path)
        try Checkpoint.write(.network(model), info: try ModelOpSupport.info(context, framework: "linear", train: train), to: try context.outputPath("model"))
    }
}

struct TrainLogisticOp: Op {
    let signature = BuiltinOps.signature("train/logistic")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        var trainer = LogisticRegression()
        trainer.learningRate = try context.double("learning_rate")
        trainer.l2 = try context.double("l2")
        trainer.epochs = try context.int("epochs")
        trainer.seed = try DataOpSupport.seed(context)
        let (model, state) = try trainer.fit(
            train, validation: validation, file: path,
            report: ModelOpSupport.epochReporter(context, epochs: trainer.epochs, rows: train.rowCount)
        )
        let info = try ModelOpSupport.info(context, framework: "logistic", train: train)
        try Checkpoint.write(.network(model), info: info, state: state, to: try context.outputPath("model"))
        let metrics = ModelOpSupport.trainingMetrics(model, train: train, validation: validation)
        try ModelOpSupport.writeMetrics(metrics, context)
    }
}

struct EvalClassificationOp: Op {
    let signature = BuiltinOps.signature("eval/classification")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (model, info, data, path, inputs) = try ModelOpSupport.evaluationInputs(context)
        guard model.isClassifier, let labels = data.classIDs, data.task == .classification else {
            throw OpError("eval/classification: needs a classifier and labelled classification data; \(path) is \(data.task.rawValue)")
        }
        guard data.classes == info.classes else {
            throw OpError(
                "eval/classification: \(path) names its classes \(data.classes), the model \(info.classes); evaluate on data imported with the same label column"
            )
        }
        let metrics = Metrics.classification(probabilities: model.outputs(inputs), labels: labels)
        try ModelOpSupport.writeMetrics(metrics, context)
        try ModelOpSupport.gate(metrics, metric: "accuracy", argument: "min_accuracy", context)
    }
}

struct EvalRegressionOp: Op {
    let signature = BuiltinOps.signature("eval/regression")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (model, _, data, path, inputs) = try ModelOpSupport.evaluationInputs(context)
        guard !model.isClassifier, case .values(let targets) = data.targets else {
            throw OpError("eval/regression: needs a regression model and regression data; \(path) is \(data.task.rawValue)")
        }
        let predictions = model.outputs(inputs).values.map(Double.init)
        let metrics = Metrics.regression(predictions: predictions, targets: targets)
        try ModelOpSupport.writeMetrics(metrics, context)
        try ModelOpSupport.gate(metrics, metric: "r2", argument: "min_r2", context)
    }
}

struct PredictOp: Op {
    let signature = BuiltinOps.signature("model/predict")

    func run(_ context: OpContext) async throws {
        let checkpoint = try context.inputPath("model")
        let data = try context.inputPath("data")
        let result = try Prediction.predict(checkpoint: checkpoint, input: data, format: .hdf5, threads: context.threadBudget)
        try result.write(hdf5: try context.outputPath("predictions"))
    }
}
