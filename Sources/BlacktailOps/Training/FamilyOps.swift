import BlacktailData
import Foundation
import Frameworks
import Numerics
import PipelineLanguage

struct FineTuneOp: Op {
    let signature = BuiltinOps.signature("train/finetune")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (base, baseInfo, basePath) = try ModelOpSupport.model(context, "base")
        guard case .network(let network) = base else {
            throw OpError("train/finetune: \(basePath) is a \(base.structure) model; only networks (train/mlp, train/logistic, train/finetune) can be fine-tuned")
        }
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        guard train.featureNames == baseInfo.featureNames else {
            throw OpError("train/finetune: \(path) has other features than the base model \(basePath); fine-tuning needs the same inputs")
        }
        let isClassification = train.task == .classification
        guard isClassification || train.task == .regression else { throw OpError("train/finetune: \(path) has no labels to learn") }
        var trainer = try ModelOpSupport.perceptron(context)
        trainer.frozenLayers = try context.int("freeze")
        let (start, state) = try trainer.startFineTuning(
            from: network, inputs: train.featureCount, outputs: isClassification ? train.classes.count : 1,
            output: isClassification ? .softmax : .identity, replaceHead: try context.bool("new_head"), file: basePath
        )
        var info = try ModelOpSupport.info(context, framework: "finetune", train: train)
        info.parentSHA256 = try DatasetFile.sha256(ofFile: basePath)
        // A fine-tuned model expects the inputs its base was trained on, scaled the same way.
        info.preprocessing = info.preprocessing ?? baseInfo.preprocessing
        try ModelOpSupport.trainNetwork(trainer, from: start, state: state, train: train, validation: validation, path: path, info: info, context)
    }
}

struct SelfTrainingOp: Op {
    let signature = BuiltinOps.signature("train/self-training")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        var selfTraining = SelfTraining()
        selfTraining.threshold = try context.double("threshold")
        selfTraining.maximumIterations = try context.int("max_iterations")
        let base = try context.string("base")
        let seed = try DataOpSupport.seed(context)
        let epochs = context.optionalValue("epochs").flatMap { if case .int(let epochs) = $0 { epochs } else { nil } }
        let (model, pseudoLabelled) = try selfTraining.fit(
            train, file: path,
            train: { dataset in
                try context.checkCancellation()
                switch base {
                case "logistic":
                    var learner = LogisticRegression()
                    learner.seed = seed
                    if let epochs { learner.epochs = epochs }
                    return .network(try learner.fit(dataset, file: path).model)
                case "mlp":
                    var learner = MultilayerPerceptron()
                    learner.seed = seed
                    if let epochs { learner.epochs = epochs }
                    let (network, state) = learner.start(inputs: dataset.featureCount, outputs: dataset.classes.count, output: .softmax)
                    return .network(try learner.train(dataset, from: network, state: state, file: path).model)
                default:
                    throw OpError("train/self-training: unknown base '\(base)'")
                }
            },
            report: { round in
                try context.checkCancellation()
                context.progress.report(ProgressUpdate(
                    fraction: Double(round.iteration) / Double(max(selfTraining.maximumIterations, 1)),
                    metrics: ["added": Double(round.added), "labelled": Double(round.labelled)]
                ))
            }
        )
        var info = try ModelOpSupport.info(context, framework: "self-training", train: train)
        info.task = .classification
        try Checkpoint.write(model, info: info, to: try context.outputPath("model"))
        var metrics = ModelOpSupport.trainingMetrics(try ModelOpSupport.supervised(model, context, path: path), train: train, validation: validation)
        metrics["pseudo_labelled"] = Double(pseudoLabelled)
        metrics["labelled"] = Double(train.classIDs?.count { $0 >= 0 } ?? 0)
        try ModelOpSupport.writeMetrics(metrics, context)
    }
}

struct LabelPropagationOp: Op {
    let signature = BuiltinOps.signature("train/label-propagation")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(1)
        let (train, path) = try DataOpSupport.read(context, "train")
        var propagation = LabelPropagation()
        guard let kernel = LabelPropagation.Kernel(rawValue: try context.string("kernel")) else {
            throw OpError("train/label-propagation: unknown kernel")
        }
        propagation.kernel = kernel
        propagation.neighbors = try context.int("neighbors")
        propagation.gamma = context.optionalValue("gamma")?.number
        propagation.maximumIterations = try context.int("max_iterations")
        propagation.tolerance = try context.double("tolerance")
        propagation.threads = context.threadBudget
        let (model, iterations) = try propagation.fit(train, file: path)
        var info = try ModelOpSupport.info(context, framework: "label-propagation", train: train)
        info.task = .classification
        try Checkpoint.write(.labelPropagation(model), info: info, to: try context.outputPath("model"))
        var metrics = ModelOpSupport.trainingMetrics(model, train: train, validation: nil)
        metrics["iterations"] = Double(iterations)
        metrics["labelled"] = Double(train.classIDs?.count { $0 >= 0 } ?? 0)
        try ModelOpSupport.writeMetrics(metrics, context)
    }
}

struct VoteOp: Op {
    let signature = BuiltinOps.signature("model/vote")

    func run(_ context: OpContext) async throws {
        let paths = try context.inputPaths("models")
        let members = try paths.map { path in
            let (model, info, _) = try Checkpoint.read(path)
            return VotingModel.Member(model: model, info: info)
        }
        guard let voting = VotingModel.Voting(rawValue: try context.string("voting")) else { throw OpError("model/vote: unknown voting") }
        var weights: [Double]?
        if case .list(let items)? = context.optionalValue("weights") { weights = items.compactMap(\.number) }
        let ensemble: VotingModel
        do {
            ensemble = try VotingModel(members: members, voting: voting, weights: weights)
        } catch {
            throw OpError("model/vote: \(error.message)")
        }
        let first = members[0].info
        let info = ModelInfo(
            framework: "voting", task: first.task, featureNames: first.featureNames, classes: first.classes,
            targetName: first.targetName, hyperparameters: ModelOpSupport.hyperparameters(context),
            createdBy: "model/vote@\(signature.version)", preprocessing: first.preprocessing, blasThreads: BLAS.threadCount
        )
        try Checkpoint.write(.voting(ensemble), info: info, to: try context.outputPath("model"))
        context.logger.info("\(members.count) members, \(voting.rawValue) voting")
    }
}
