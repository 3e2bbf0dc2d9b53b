import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
import PipelineLanguage

struct TrainMLPOp: Op {
    let signature = BuiltinOps.signature("train/mlp")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (train, path) = try DataOpSupport.read(context, "train")
        let validation = try DataOpSupport.readOptional(context, "validation")?.dataset
        var trainer = try ModelOpSupport.perceptron(context)
        guard case .value(.list(let widths))? = context.arguments["hidden"] else { throw OpError("train/mlp: 'hidden' is a list of layer widths") }
        trainer.hidden = widths.compactMap { if case .int(let width) = $0 { width } else { nil } }
        guard let activation = DenseNetwork.Activation(rawValue: try context.string("activation")) else {
            throw OpError("train/mlp: unknown activation")
        }
        trainer.activation = activation
        let isClassification = train.task == .classification
        guard isClassification || train.task == .regression else { throw OpError("train/mlp: \(path) has no labels to learn") }
        let (network, state) = trainer.start(
            inputs: train.featureCount, outputs: isClassification ? train.classes.count : 1, output: isClassification ? .softmax : .identity
        )
        try ModelOpSupport.trainNetwork(
            trainer, from: network, state: state, train: train, validation: validation, path: path,
            info: try ModelOpSupport.info(context, framework: "mlp", train: train), context
        )
    }
}

struct TrainKMeansOp: Op {
    let signature = BuiltinOps.signature("train/kmeans")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (train, path) = try DataOpSupport.read(context, "train")
        var kmeans = KMeans(k: try context.int("k"))
        kmeans.restarts = try context.int("restarts")
        kmeans.maximumIterations = try context.int("max_iterations")
        kmeans.seed = try DataOpSupport.seed(context)
        kmeans.threads = context.threadBudget
        let (model, inertia) = try kmeans.fit(train.featureMatrix, file: path)
        var info = try ModelOpSupport.info(context, framework: "kmeans", train: train)
        (info.task, info.classes, info.targetName) = (.unlabelled, [], "")
        try Checkpoint.write(.kmeans(model), info: info, to: try context.outputPath("model"))
        context.logger.info("k-means done", metadata: ["inertia": "\(inertia)"])
    }
}

struct TrainPCAOp: Op {
    let signature = BuiltinOps.signature("train/pca")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(context.threadBudget)
        let (train, path) = try DataOpSupport.read(context, "train")
        let model = try PrincipalComponents.fit(
            train.featureMatrix, components: try context.int("components"), file: path
        )
        var info = try ModelOpSupport.info(context, framework: "pca", train: train)
        (info.task, info.classes, info.targetName) = (.unlabelled, [], "")
        try Checkpoint.write(.pca(model), info: info, to: try context.outputPath("model"))
    }
}

struct EvalClusteringOp: Op {
    let signature = BuiltinOps.signature("eval/clustering")

    func run(_ context: OpContext) async throws {
        let (trained, info, modelPath) = try ModelOpSupport.model(context)
        guard case .kmeans(let kmeans) = trained else { throw OpError("eval/clustering: \(modelPath) is not a clustering model") }
        let (data, path) = try DataOpSupport.read(context, "data")
        let inputs = try modelInputs(data, for: info, applyingPreprocessing: false, file: path)
        let (clusters, distances) = kmeans.assign(inputs)
        var random = SeededRandom(seed: try DataOpSupport.seed(context))
        var order = Array(0..<inputs.rows)
        random.shuffle(&order)
        let sample = Array(order.prefix(try context.int("sample")))
        let metrics: [String: Double] = [
            "inertia": distances.reduce(0, +),
            "silhouette": KMeans.silhouette(inputs, clusters: clusters, sample: sample),
            "clusters": Double(kmeans.centroids.rows),
            "rows": Double(inputs.rows),
        ]
        try ModelOpSupport.writeMetrics(metrics, context)
    }
}

struct SelectBestOp: Op {
    let signature = BuiltinOps.signature("model/select-best")

    func run(_ context: OpContext) async throws {
        let models = try context.inputPaths("models")
        let metricsFiles = try context.inputPaths("metrics")
        guard models.count == metricsFiles.count, !models.isEmpty else {
            throw OpError("model/select-best: \(models.count) models and \(metricsFiles.count) metrics files; give one metrics file per model")
        }
        let metric = try context.string("metric")
        let maximise = try context.string("goal") == "max"
        var best: (index: Int, value: Double)?
        for (index, file) in metricsFiles.enumerated() {
            let metrics = try Metrics.read(file)
            guard let value = metrics[metric] else {
                throw OpError("model/select-best: \(file) has no metric '\(metric)'; it has \(metrics.keys.sorted().joined(separator: ", "))")
            }
            // Ties go to the earlier candidate, so the choice is stable.
            if best == nil || (maximise ? value > best!.value : value < best!.value) { best = (index, value) }
        }
        let chosen = best!
        try FileManager.default.copyItem(atPath: models[chosen.index], toPath: try context.outputPath("model"))
        try FileManager.default.copyItem(atPath: metricsFiles[chosen.index], toPath: try context.outputPath("metrics"))
        context.logger.info("selected candidate \(chosen.index)", metadata: [metric: "\(chosen.value)"])
    }
}
