public import BlacktailData
public import HDF5
public import Numerics

/// Model checkpoints in the layout of docs/formats.md §3: root attributes, `/preprocessing`,
/// `/architecture`, `/parameters`, `/hyperparameters` and `/training_state`.
public enum Checkpoint {
    public static let format = "blacktail.checkpoint/1"

    /// Writes a model, what it was made with, and the state to resume its training; replaces the file.
    public static func write(_ model: TrainedModel, info: ModelInfo, state: TrainingState? = nil, to path: String) throws {
        let file = try HDF5File.create(at: path, overwrite: true)
        defer { file.close() }
        let root = try file.root
        let attributes: [(String, HDF5AttributeValue)] = [
            ("format", .string(format)),
            ("kind", .string("model")),
            ("created_by", .string(info.createdBy)),
            ("framework", .string(info.framework)),
            ("task", .string(info.task.rawValue)),
            ("feature_names", .strings(info.featureNames)),
            ("target_name", .string(info.targetName)),
            ("classes", .strings(info.classes)),
        ]
        for (name, value) in attributes { try root.setAttribute(name, value) }
        if let scaler = info.preprocessing { try scaler.write(to: root) }
        let architecture = try root.createGroup("architecture")
        let parameters = try root.createGroup("parameters")
        switch model {
        case .network(let network):
            try architecture.setAttribute("layers", .ints(network.widths.map(Int64.init)))
            try architecture.setAttribute("activation", .string(network.activation.rawValue))
            try architecture.setAttribute("output", .string(network.output.rawValue))
            try writeLayers(network.layers, to: parameters)
        case .kmeans(let kmeans):
            try architecture.setAttribute("k", .int(Int64(kmeans.centroids.rows)))
            try parameters.writeDataset("centroids", kmeans.centroids.values, shape: [kmeans.centroids.rows, kmeans.centroids.columns])
        case .pca(let pca):
            try architecture.setAttribute("components", .int(Int64(pca.components.rows)))
            try parameters.writeDataset("mean", pca.mean)
            try parameters.writeDataset("components", pca.components.values, shape: [pca.components.rows, pca.components.columns])
            try parameters.writeDataset("explained_variance", pca.explainedVariance)
            try parameters.writeDataset("explained_variance_ratio", pca.explainedVarianceRatio)
        }
        let hyperparameters = try root.createGroup("hyperparameters")
        for (name, value) in info.hyperparameters {
            try hyperparameters.setAttribute(name, value)
        }
        let training = try root.createGroup("training_state")
        try training.setAttribute("blas_threads", .int(Int64(info.blasThreads)))
        if let state {
            try training.setAttribute("epoch", .int(Int64(state.epoch)))
            try training.setAttribute("step", .int(Int64(state.step)))
            try training.setAttribute("best_score", .double(state.bestScore))
            try training.setAttribute("epochs_without_improvement", .int(Int64(state.epochsWithoutImprovement)))
            try training.setAttribute("stopped", .int(state.stopped ? 1 : 0))
            // The generator's words, stored as int64 with the same bits.
            try training.writeDataset("rng", state.random.savedState.map { Int64(bitPattern: $0) })
            if !state.firstMoments.isEmpty { try writeLayers(state.firstMoments, to: try training.createGroup("optimizer/m")) }
            if !state.secondMoments.isEmpty { try writeLayers(state.secondMoments, to: try training.createGroup("optimizer/v")) }
            if let best = state.best { try writeLayers(best.layers, to: try training.createGroup("best_parameters")) }
            if let current = state.current { try writeLayers(current.layers, to: try training.createGroup("current_parameters")) }
        }
    }

    private static func writeLayers(_ layers: [DenseLayer], to group: HDF5Group) throws {
        for (index, layer) in layers.enumerated() {
            let layerGroup = try group.createGroup("layer\(index)")
            try layerGroup.writeDataset("weights", layer.weights.values, shape: [layer.weights.rows, layer.weights.columns])
            try layerGroup.writeDataset("bias", layer.bias)
        }
    }

    private static func readLayers(from group: HDF5Group, count: Int, path: String) throws -> [DenseLayer] {
        try (0..<count).map { index in
            let layer = try group.group("layer\(index)")
            let weights = try layer.dataset("weights")
            guard weights.shape.count == 2 else { throw CheckpointError(path: path, "\(layer.path)/weights is not 2-dimensional") }
            let bias = try layer.dataset("bias").read(as: Float.self)
            guard bias.count == weights.shape[1] else { throw CheckpointError(path: path, "\(layer.path)/bias does not match its weights") }
            return DenseLayer(weights: Matrix(rows: weights.shape[0], columns: weights.shape[1], values: try weights.read(as: Float.self)), bias: bias)
        }
    }

    /// Reads a model checkpoint, with its training state when it has one.
    /// - Throws: ``CheckpointError`` or ``HDF5Error`` naming what is missing or wrong.
    public static func read(_ path: String) throws -> (model: TrainedModel, info: ModelInfo, state: TrainingState?) {
        try HDF5File.withFile(at: path) { file in
            let root = try file.root
            func text(_ name: String) throws -> String { try root.attribute(name)?.stringValue ?? "" }
            guard try text("format").hasPrefix("blacktail.checkpoint/") else {
                throw CheckpointError(path: path, "is not a Blacktail checkpoint (its 'format' attribute is missing or different)")
            }
            guard try text("kind") == "model" else {
                throw CheckpointError(path: path, "is a '\(try text("kind"))' checkpoint, not a trained model")
            }
            guard let task = Dataset.Task(rawValue: try text("task")) else { throw CheckpointError(path: path, "has no known 'task'") }
            let framework = try text("framework")
            let architecture = try root.group("architecture")
            let parameters = try root.group("parameters")
            let model: TrainedModel
            var layerCount = 0
            switch framework {
            case "linear", "logistic", "mlp":
                let widths = try architecture.attribute("layers").flatMap { value -> [Int64]? in
                    if case .ints(let ints) = value { return ints }
                    return nil
                } ?? []
                guard widths.count >= 2,
                    let output = DenseNetwork.Output(rawValue: try architecture.attribute("output")?.stringValue ?? ""),
                    let activation = DenseNetwork.Activation(rawValue: try architecture.attribute("activation")?.stringValue ?? "relu")
                else {
                    throw CheckpointError(path: path, "/architecture does not describe a network (layers, activation, output)")
                }
                layerCount = widths.count - 1
                let layers = try readLayers(from: parameters, count: layerCount, path: path)
                guard zip(layers, zip(widths, widths.dropFirst())).allSatisfy({ $0.weights.rows == Int($1.0) && $0.weights.columns == Int($1.1) }) else {
                    throw CheckpointError(path: path, "the parameters' shapes do not match /architecture's layers \(widths)")
                }
                model = .network(DenseNetwork(layers: layers, activation: activation, output: output))
            case "kmeans":
                let centroids = try parameters.dataset("centroids")
                guard centroids.shape.count == 2 else { throw CheckpointError(path: path, "/parameters/centroids is not 2-dimensional") }
                model = .kmeans(KMeansModel(centroids: Matrix(rows: centroids.shape[0], columns: centroids.shape[1], values: try centroids.read(as: Float.self))))
            case "pca":
                let components = try parameters.dataset("components")
                guard components.shape.count == 2 else { throw CheckpointError(path: path, "/parameters/components is not 2-dimensional") }
                model = .pca(PCAModel(
                    mean: try parameters.dataset("mean").read(as: Float.self),
                    components: Matrix(rows: components.shape[0], columns: components.shape[1], values: try components.read(as: Float.self)),
                    explainedVariance: try parameters.dataset("explained_variance").read(as: Double.self),
                    explainedVarianceRatio: try parameters.dataset("explained_variance_ratio").read(as: Double.self)
                ))
            default:
                throw CheckpointError(path: path, "has framework '\(framework)', which this build does not read")
            }
            let featureNames = try root.attribute("feature_names")?.stringsValue ?? []
            var hyperparameters: [(String, HyperparameterValue)] = []
            if root.contains("hyperparameters") {
                let group = try root.group("hyperparameters")
                for name in try group.attributeNames {
                    if let value = try group.attribute(name) { hyperparameters.append((name, value)) }
                }
            }
            var state: TrainingState?
            var blasThreads = 1
            if root.contains("training_state") {
                let training = try root.group("training_state")
                blasThreads = Int(try training.attribute("blas_threads")?.intValue ?? 1)
                if training.contains("rng"), let random = SeededRandom(state: try training.dataset("rng").read(as: Int64.self).map { UInt64(bitPattern: $0) }) {
                    var restored = TrainingState(epoch: Int(try training.attribute("epoch")?.intValue ?? 0), random: random)
                    restored.step = Int(try training.attribute("step")?.intValue ?? 0)
                    restored.bestScore = try training.attribute("best_score")?.doubleValue ?? -.infinity
                    restored.epochsWithoutImprovement = Int(try training.attribute("epochs_without_improvement")?.intValue ?? 0)
                    restored.stopped = try training.attribute("stopped")?.intValue == 1
                    if training.contains("optimizer/m") { restored.firstMoments = try readLayers(from: try training.group("optimizer/m"), count: layerCount, path: path) }
                    if training.contains("optimizer/v") { restored.secondMoments = try readLayers(from: try training.group("optimizer/v"), count: layerCount, path: path) }
                    if case .network(let network) = model {
                        for (name, keyPath) in [("best_parameters", \TrainingState.best), ("current_parameters", \TrainingState.current)] where training.contains(name) {
                            restored[keyPath: keyPath] = DenseNetwork(
                                layers: try readLayers(from: try training.group(name), count: layerCount, path: path),
                                activation: network.activation, output: network.output
                            )
                        }
                    }
                    state = restored
                }
            }
            let info = ModelInfo(
                framework: framework, task: task, featureNames: featureNames,
                classes: try root.attribute("classes")?.stringsValue ?? [], targetName: try text("target_name"),
                hyperparameters: hyperparameters, createdBy: try text("created_by"),
                preprocessing: try Scaler.read(from: root), blasThreads: blasThreads
            )
            return (model, info, state)
        }
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
