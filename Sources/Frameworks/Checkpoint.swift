import BlacktailData
import HDF5
import BlacktailNumerics

/// Model checkpoints in the layout of docs/formats.md §3: root attributes, `/preprocessing`,
/// `/architecture`, `/parameters`, `/hyperparameters` and `/training_state`.
public enum Checkpoint {
    public static let format = "blacktail.checkpoint/1"

    /// Writes a model, what it was made with, and the state to resume its training; replaces the file.
    public static func write(_ model: TrainedModel, info: ModelInfo, state: TrainingState? = nil, to path: String) throws {
        let file = try HDF5File.create(at: path, overwrite: true)
        defer { file.close() }
        try write(model, info: info, state: state, into: try file.root)
    }

    /// Writes a whole checkpoint into `root`: a file's root group, or a voting ensemble's member.
    private static func write(_ model: TrainedModel, info: ModelInfo, state: TrainingState?, into root: HDF5Group) throws {
        var attributes: [(String, HDF5AttributeValue)] = [
            ("format", .string(format)),
            ("kind", .string("model")),
            ("created_by", .string(info.createdBy)),
            ("framework", .string(info.framework)),
            ("task", .string(info.task.rawValue)),
            ("feature_names", .strings(info.featureNames)),
            ("target_name", .string(info.targetName)),
            ("classes", .strings(info.classes)),
        ]
        if !info.parentSHA256.isEmpty { attributes.append(("parent_sha256", .string(info.parentSHA256))) }
        if let environment = info.environment {
            let options = environment.options.sorted { $0.key < $1.key }
            attributes += [
                ("environment", .string(environment.name)),
                ("environment_option_names", .strings(options.map(\.key))),
                ("environment_option_values", .doubles(options.map(\.value))),
            ]
        }
        for (name, value) in attributes { try root.setAttribute(name, value) }
        if let scaler = info.preprocessing { try scaler.write(to: root) }
        let architecture = try root.createGroup("architecture")
        try architecture.setAttribute("model", .string(model.structure))
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
        case .trees(let ensemble):
            try architecture.setAttribute("ensemble", .string(ensemble.kind.rawValue))
            try architecture.setAttribute("trees", .int(Int64(ensemble.trees.count)))
            try ensemble.write(to: parameters)
        case .labelPropagation(let propagation):
            try architecture.setAttribute("kernel", .string(propagation.kernel.rawValue))
            try architecture.setAttribute("neighbors", .int(Int64(propagation.neighbors)))
            try architecture.setAttribute("gamma", .double(propagation.gamma))
            try parameters.writeDataset("features", propagation.features.values, shape: [propagation.features.rows, propagation.features.columns])
            try parameters.writeDataset(
                "label_distributions", propagation.distributions.values, shape: [propagation.distributions.rows, propagation.distributions.columns]
            )
        case .voting(let voting):
            try architecture.setAttribute("voting", .string(voting.voting.rawValue))
            try architecture.setAttribute("members", .int(Int64(voting.members.count)))
            try parameters.writeDataset("weights", voting.weights)
            for (index, member) in voting.members.enumerated() {
                try write(member.model, info: member.info, state: nil, into: try parameters.createGroup(memberName(index)))
            }
        case .qTable(let table):
            try architecture.setAttribute("states", .int(Int64(table.states)))
            try architecture.setAttribute("actions", .int(Int64(table.actions)))
            try table.write(to: parameters)
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

    /// A voting member's group under `/parameters`: `member000`, `member001`, ….
    private static func memberName(_ index: Int) -> String {
        let digits = String(index)
        return "member" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
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
        try HDF5File.withFile(at: path) { file in try read(from: try file.root, path: path, depth: 0) }
    }

    /// Voting ensembles of voting ensembles are read this deep at most.
    private static let deepestNesting = 4

    /// Reads the checkpoint in `root`: a file's root group, or a voting ensemble's member.
    private static func read(from root: HDF5Group, path: String, depth: Int) throws -> (model: TrainedModel, info: ModelInfo, state: TrainingState?) {
        // A member's errors name its group; the file's name the file.
        let place = depth == 0 ? "" : "\(root.path): "
        func failure(_ message: String) -> CheckpointError { CheckpointError(path: path, place + message) }
        func text(_ name: String) throws -> String { try root.attribute(name)?.stringValue ?? "" }
        guard try text("format").hasPrefix("blacktail.checkpoint/") else {
            throw failure("is not a Blacktail checkpoint (its 'format' attribute is missing or different)")
        }
        guard try text("kind") == "model" else {
            throw failure("is a '\(try text("kind"))' checkpoint, not a trained model")
        }
        guard let task = ModelTask(rawValue: try text("task")) else { throw failure("has no known 'task'") }
        let framework = try text("framework")
        let architecture = try root.group("architecture")
        let parameters = try root.group("parameters")
        let structure: String
        if let named = try architecture.attribute("model")?.stringValue {
            structure = named
        } else if let implied = ["linear": "network", "logistic": "network", "mlp": "network", "kmeans": "kmeans", "pca": "pca"][framework] {
            structure = implied
        } else {
            throw failure("has framework '\(framework)', which this build does not read")
        }
        func matrix(_ name: String) throws -> Matrix {
            let dataset = try parameters.dataset(name)
            guard dataset.shape.count == 2 else { throw failure("\(dataset.path) is not 2-dimensional") }
            return Matrix(rows: dataset.shape[0], columns: dataset.shape[1], values: try dataset.read(as: Float.self))
        }
        let model: TrainedModel
        var layerCount = 0
        switch structure {
        case "network":
            let widths = try architecture.attribute("layers")?.intsValue ?? []
            guard widths.count >= 2,
                let output = DenseNetwork.Output(rawValue: try architecture.attribute("output")?.stringValue ?? ""),
                let activation = DenseNetwork.Activation(rawValue: try architecture.attribute("activation")?.stringValue ?? "relu")
            else {
                throw failure("/architecture does not describe a network (layers, activation, output)")
            }
            layerCount = widths.count - 1
            let layers = try readLayers(from: parameters, count: layerCount, path: path)
            guard zip(layers, zip(widths, widths.dropFirst())).allSatisfy({ $0.weights.rows == Int($1.0) && $0.weights.columns == Int($1.1) }) else {
                throw failure("the parameters' shapes do not match /architecture's layers \(widths)")
            }
            model = .network(DenseNetwork(layers: layers, activation: activation, output: output))
        case "kmeans":
            model = .kmeans(KMeansModel(centroids: try matrix("centroids")))
        case "pca":
            model = .pca(PCAModel(
                mean: try parameters.dataset("mean").read(as: Float.self),
                components: try matrix("components"),
                explainedVariance: try parameters.dataset("explained_variance").read(as: Double.self),
                explainedVarianceRatio: try parameters.dataset("explained_variance_ratio").read(as: Double.self)
            ))
        case "trees":
            let featureCount = try root.attribute("feature_names")?.stringsValue?.count ?? 0
            model = .trees(try TreeEnsemble.read(from: parameters, path: path, featureCount: featureCount))
        case "label-propagation":
            guard let kernel = LabelPropagation.Kernel(rawValue: try architecture.attribute("kernel")?.stringValue ?? ""),
                let neighbors = try architecture.attribute("neighbors")?.intValue, neighbors >= 1,
                let gamma = try architecture.attribute("gamma")?.doubleValue, gamma.isFinite
            else {
                throw failure("/architecture does not describe label propagation (kernel, neighbors, gamma)")
            }
            let features = try matrix("features")
            let distributions = try matrix("label_distributions")
            guard features.rows == distributions.rows, features.rows >= 1, features.columns >= 1, distributions.columns >= 1 else {
                throw failure("/parameters/features and /parameters/label_distributions are not rows of features and their class probabilities")
            }
            model = .labelPropagation(LabelPropagationModel(
                kernel: kernel, neighbors: Int(neighbors), gamma: gamma, features: features, distributions: distributions
            ))
        case "voting":
            guard depth < deepestNesting else { throw failure("voting ensembles are nested more than \(deepestNesting) deep") }
            guard let voting = VotingModel.Voting(rawValue: try architecture.attribute("voting")?.stringValue ?? ""),
                let count = try architecture.attribute("members")?.intValue, count >= 1, count <= 1000
            else {
                throw failure("/architecture does not describe a voting ensemble (voting, members)")
            }
            let members = try (0..<Int(count)).map { index in
                let member = try read(from: try parameters.group(memberName(index)), path: path, depth: depth + 1)
                return VotingModel.Member(model: member.model, info: member.info)
            }
            do {
                model = .voting(try VotingModel(members: members, voting: voting, weights: try parameters.dataset("weights").read(as: Double.self)))
            } catch let error as VotingError {
                throw failure("the voting ensemble is inconsistent: \(error.message)")
            }
        case "q-table":
            model = .qTable(try QTable.read(from: parameters, path: path))
        default:
            throw failure("has a model of kind '\(structure)' (framework '\(framework)'), which this build does not read")
        }
        let featureNames = try root.attribute("feature_names")?.stringsValue ?? []
        // A model used on rows of another width would multiply matrices that do not fit.
        if !featureNames.isEmpty, let width = model.inputWidth, width != featureNames.count {
            throw failure("the model takes \(width) features, but 'feature_names' names \(featureNames.count)")
        }
        let classes = try root.attribute("classes")?.stringsValue ?? []
        // Evaluation reads a row's probability of its class by the class's id.
        if task == .classification, let classifier = model.supervised, classifier.isClassifier, classifier.outputCount != classes.count {
            throw failure("the model gives \(classifier.outputCount) class probabilities, but 'classes' names \(classes.count)")
        }
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
        var environment: EnvironmentSpec?
        if let name = try root.attribute("environment")?.stringValue {
            let names = try root.attribute("environment_option_names")?.stringsValue ?? []
            let values = try root.attribute("environment_option_values")?.doublesValue ?? []
            guard names.count == values.count, Set(names).count == names.count else {
                throw failure("the environment's option names and values do not pair up")
            }
            environment = EnvironmentSpec(name: name, options: Dictionary(uniqueKeysWithValues: zip(names, values)))
        }
        let info = ModelInfo(
            framework: framework, task: task, featureNames: featureNames,
            classes: classes, targetName: try text("target_name"),
            hyperparameters: hyperparameters, createdBy: try text("created_by"),
            preprocessing: try Scaler.read(from: root), blasThreads: blasThreads,
            parentSHA256: try text("parent_sha256"), environment: environment
        )
        return (model, info, state)
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
