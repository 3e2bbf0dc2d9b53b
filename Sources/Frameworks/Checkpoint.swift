public import BlacktailData
public import HDF5
public import Numerics

/// Model checkpoints in the layout of docs/formats.md §3: root attributes, `/preprocessing`,
/// `/parameters/layer0/{weights,bias}`, `/hyperparameters` and `/training_state`.
public enum Checkpoint {
    public static let format = "blacktail.checkpoint/1"

    /// Writes a one-layer model and what it was made with, replacing the file.
    public static func write(_ model: LinearModel, info: ModelInfo, to path: String) throws {
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
        try architecture.setAttribute("layers", .ints([Int64(model.inputCount), Int64(model.outputCount)]))
        try architecture.setAttribute("output", .string(model.output.rawValue))
        let layer = try root.createGroup("parameters/layer0")
        try layer.writeDataset("weights", model.weights.values, shape: [model.weights.rows, model.weights.columns])
        try layer.writeDataset("bias", model.bias)
        let hyperparameters = try root.createGroup("hyperparameters")
        for (name, value) in info.hyperparameters {
            let stored: HDF5AttributeValue = switch value {
            case .int(let int): .int(int)
            case .double(let double): .double(double)
            case .string(let string): .string(string)
            case .ints(let ints): .ints(ints)
            case .doubles(let doubles): .doubles(doubles)
            case .strings(let strings): .strings(strings)
            }
            try hyperparameters.setAttribute(name, stored)
        }
        let state = try root.createGroup("training_state")
        try state.setAttribute("epoch", .int(Int64(info.epoch)))
        try state.setAttribute("blas_threads", .int(Int64(info.blasThreads)))
        if !info.randomState.isEmpty {
            // The generator's words, stored as int64 with the same bits.
            try state.writeDataset("rng", info.randomState.map { Int64(bitPattern: $0) })
        }
    }

    /// Reads a one-layer model checkpoint.
    /// - Throws: ``CheckpointError`` naming what is missing or wrong.
    public static func read(_ path: String) throws -> (model: LinearModel, info: ModelInfo) {
        try HDF5File.withFile(at: path) { file in
            let root = try file.root
            func text(_ name: String) throws -> String { try root.attribute(name)?.stringValue ?? "" }
            guard try text("format").hasPrefix("blacktail.checkpoint/") else {
                throw CheckpointError(path: path, "is not a Blacktail checkpoint (its 'format' attribute is missing or different)")
            }
            guard try text("kind") == "model" else {
                throw CheckpointError(path: path, "is a '\(try text("kind"))' checkpoint, not a trained model")
            }
            guard root.contains("parameters/layer0") else {
                throw CheckpointError(path: path, "has no /parameters/layer0; this build reads linear and logistic models")
            }
            let layer = try root.group("parameters/layer0")
            let weights = try layer.dataset("weights")
            guard weights.shape.count == 2 else { throw CheckpointError(path: path, "/parameters/layer0/weights is not 2-dimensional") }
            let bias = try layer.dataset("bias").read(as: Float.self)
            guard bias.count == weights.shape[1] else { throw CheckpointError(path: path, "/parameters/layer0/bias does not match the weights") }
            let architecture = try root.group("architecture")
            guard let output = LinearModel.Output(rawValue: try architecture.attribute("output")?.stringValue ?? "") else {
                throw CheckpointError(path: path, "/architecture has no known 'output'")
            }
            let model = LinearModel(
                weights: Matrix(rows: weights.shape[0], columns: weights.shape[1], values: try weights.read(as: Float.self)),
                bias: bias,
                output: output
            )
            guard let task = Dataset.Task(rawValue: try text("task")) else { throw CheckpointError(path: path, "has no known 'task'") }
            let featureNames = try root.attribute("feature_names")?.stringsValue ?? []
            guard featureNames.count == model.inputCount else {
                throw CheckpointError(path: path, "names \(featureNames.count) features, but the model takes \(model.inputCount)")
            }
            var hyperparameters: [(String, HyperparameterValue)] = []
            if root.contains("hyperparameters") {
                let group = try root.group("hyperparameters")
                for name in try group.attributeNames {
                    guard let value = try group.attribute(name) else { continue }
                    let converted: HyperparameterValue = switch value {
                    case .int(let int): .int(int)
                    case .double(let double): .double(double)
                    case .string(let string): .string(string)
                    case .ints(let ints): .ints(ints)
                    case .doubles(let doubles): .doubles(doubles)
                    case .strings(let strings): .strings(strings)
                    }
                    hyperparameters.append((name, converted))
                }
            }
            var epoch = 0
            var randomState: [UInt64] = []
            var blasThreads = 1
            if root.contains("training_state") {
                let state = try root.group("training_state")
                epoch = Int(try state.attribute("epoch")?.intValue ?? 0)
                blasThreads = Int(try state.attribute("blas_threads")?.intValue ?? 1)
                if state.contains("rng") { randomState = try state.dataset("rng").read(as: Int64.self).map { UInt64(bitPattern: $0) } }
            }
            let info = ModelInfo(
                framework: try text("framework"), task: task, featureNames: featureNames,
                classes: try root.attribute("classes")?.stringsValue ?? [], targetName: try text("target_name"),
                hyperparameters: hyperparameters, createdBy: try text("created_by"),
                preprocessing: try Scaler.read(from: root), epoch: epoch, randomState: randomState, blasThreads: blasThreads
            )
            return (model, info)
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
