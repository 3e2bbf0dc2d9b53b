import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
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
                case "forest":
                    var learner = RandomForest()
                    learner.seed = seed
                    learner.threads = context.threadBudget
                    if let epochs { learner.trees = epochs }
                    return .trees(try learner.fit(dataset, file: path))
                case "boosted":
                    var learner = GradientBoostedTrees()
                    learner.seed = seed
                    learner.threads = context.threadBudget
                    if let epochs { learner.iterations = epochs }
                    return .trees(try learner.fit(dataset, file: path))
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
            createdBy: "model/vote@\(signature.version)", preprocessing: first.preprocessing, blasThreads: context.threadBudget
        )
        try Checkpoint.write(.voting(ensemble), info: info, to: try context.outputPath("model"))
        context.logger.info("\(members.count) members, \(voting.rawValue) voting")
    }
}

/// What the tree ops share: the settings every learner of trees takes, and writing its results.
enum TreeOpSupport {
    /// `max_features`: `all`, `sqrt`, `log2`, a count (`"12"`) or a share (`"0.5"`).
    static func maxFeatures(_ context: OpContext) throws -> DecisionTreeLearner.MaxFeatures? {
        guard let text = context.optionalValue("max_features")?.interpolated else { return nil }
        switch text {
        case "all": return .all
        case "sqrt": return .sqrt
        case "log2": return .log2
        default:
            if let count = Int(text), count >= 1 { return .count(count) }
            if let share = Double(text), share > 0, share <= 1 { return .fraction(share) }
            throw OpError("\(context.opName): max_features is '\(text)'; give all, sqrt, log2, a count of features or a share in (0, 1]")
        }
    }

    static func criterion(_ context: OpContext) throws -> DecisionTreeLearner.Criterion? {
        let name = try context.string("criterion")
        guard name != "auto" else { return nil }
        guard let criterion = DecisionTreeLearner.Criterion(rawValue: name) else { throw OpError("\(context.opName): unknown criterion '\(name)'") }
        return criterion
    }

    static func maxDepth(_ context: OpContext) -> Int? {
        if case .int(let depth)? = context.optionalValue("max_depth") { return depth }
        return nil
    }

    /// Writes the trained trees' checkpoint and their training metrics (with the trees grown).
    static func write(_ model: TreeEnsemble, framework: String, train: Dataset, validation: Dataset?, _ context: OpContext) throws {
        try Checkpoint.write(.trees(model), info: try ModelOpSupport.info(context, framework: framework, train: train), to: try context.outputPath("model"))
        var metrics = ModelOpSupport.trainingMetrics(model, train: train, validation: validation)
        metrics["trees"] = Double(model.trees.count)
        metrics["leaves"] = Double(model.trees.reduce(0) { $0 + $1.leafCount })
        try ModelOpSupport.writeMetrics(metrics, context)
    }
}

struct TrainTreeOp: Op {
    let signature = BuiltinOps.signature("train/tree")

    func run(_ context: OpContext) async throws {
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        var learner = DecisionTreeLearner()
        learner.criterion = try TreeOpSupport.criterion(context)
        learner.maxDepth = TreeOpSupport.maxDepth(context)
        learner.minSamplesLeaf = try context.int("min_samples_leaf")
        learner.minSamplesSplit = try context.int("min_samples_split")
        learner.maxFeatures = try TreeOpSupport.maxFeatures(context) ?? .all
        learner.seed = try DataOpSupport.seed(context)
        learner.threads = context.threadBudget
        let model = try learner.fit(train, validation: validation, file: path)
        try TreeOpSupport.write(model, framework: "tree", train: train, validation: validation, context)
    }
}

struct TrainForestOp: Op {
    let signature = BuiltinOps.signature("train/forest")

    func run(_ context: OpContext) async throws {
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        let forest = try Self.forest(context)
        let model = try forest.fit(
            train, validation: validation, file: path,
            report: ModelOpSupport.epochReporter(context, epochs: forest.trees, rows: train.rowCount)
        )
        try TreeOpSupport.write(model, framework: "forest", train: train, validation: validation, context)
    }

    /// The forest the step's arguments describe.
    static func forest(_ context: OpContext) throws -> RandomForest {
        var forest = RandomForest()
        forest.trees = try context.int("trees")
        forest.criterion = try TreeOpSupport.criterion(context)
        forest.maxDepth = TreeOpSupport.maxDepth(context)
        forest.minSamplesLeaf = try context.int("min_samples_leaf")
        forest.minSamplesSplit = try context.int("min_samples_split")
        forest.maxFeatures = try TreeOpSupport.maxFeatures(context)
        forest.bootstrap = try context.bool("bootstrap")
        forest.seed = try DataOpSupport.seed(context)
        forest.threads = context.threadBudget
        return forest
    }
}

struct TrainBoostedOp: Op {
    let signature = BuiltinOps.signature("train/boosted")

    func run(_ context: OpContext) async throws {
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        var boosting = GradientBoostedTrees()
        boosting.iterations = try context.int("iterations")
        boosting.learningRate = try context.double("learning_rate")
        boosting.maxLeafNodes = try context.int("max_leaf_nodes")
        boosting.maxDepth = TreeOpSupport.maxDepth(context)
        boosting.minSamplesLeaf = try context.int("min_samples_leaf")
        boosting.l2 = try context.double("l2")
        boosting.maxBins = try context.int("max_bins")
        boosting.patience = try context.int("patience")
        boosting.seed = try DataOpSupport.seed(context)
        boosting.threads = context.threadBudget
        let model = try boosting.fit(
            train, validation: validation, file: path,
            report: ModelOpSupport.epochReporter(context, epochs: boosting.iterations, rows: train.rowCount)
        )
        try TreeOpSupport.write(model, framework: "boosted", train: train, validation: validation, context)
    }
}
