public import BlacktailData
import Foundation
public import HDF5
public import Numerics

/// One dense layer, `x · W + b`, with weights of shape (inputs, outputs).
public struct DenseLayer: Sendable, Equatable {
    public var weights: Matrix
    public var bias: [Float]

    public init(weights: Matrix, bias: [Float]) {
        precondition(bias.count == weights.columns, "one bias per output")
        self.weights = weights
        self.bias = bias
    }
}

/// A feed-forward network of dense layers: linear and ridge regression and logistic regression are
/// the one-layer cases, the multilayer perceptron the general one.
public struct DenseNetwork: Sendable, Equatable {
    public enum Output: String, Sendable {
        /// Values (regression).
        case identity
        /// Class probabilities (classification).
        case softmax
    }

    public enum Activation: String, Sendable, CaseIterable {
        case relu
        case tanh
        case sigmoid
    }

    public var layers: [DenseLayer]
    /// The activation after every layer but the last.
    public var activation: Activation
    public var output: Output

    public init(layers: [DenseLayer], activation: Activation = .relu, output: Output) {
        precondition(!layers.isEmpty, "a network has at least one layer")
        self.layers = layers
        self.activation = activation
        self.output = output
    }

    public var inputCount: Int { layers[0].weights.rows }
    public var outputCount: Int { layers[layers.count - 1].weights.columns }
    /// The widths from the input to the output (`[4, 64, 3]`).
    public var widths: [Int] { [inputCount] + layers.map(\.weights.columns) }

    /// The outputs for each row of `features`: values, or class probabilities.
    public func outputs(_ features: Matrix) -> Matrix {
        forward(features).last!
    }

    /// Every layer's output, the input first: what training needs for the backward pass.
    func forward(_ features: Matrix) -> [Matrix] {
        var activations = [features]
        for (index, layer) in layers.enumerated() {
            var next = Matrix.product(activations[index], layer.weights)
            next.addToRows(layer.bias)
            if index < layers.count - 1 {
                activation.apply(&next)
            } else if output == .softmax {
                next.softmaxRows()
            }
            activations.append(next)
        }
        return activations
    }
}

extension DenseNetwork.Activation {
    func apply(_ matrix: inout Matrix) {
        switch self {
        case .relu:
            for index in matrix.values.indices where matrix.values[index] < 0 { matrix.values[index] = 0 }
        case .tanh:
            for index in matrix.values.indices { matrix.values[index] = Float(Foundation.tanh(Double(matrix.values[index]))) }
        case .sigmoid:
            for index in matrix.values.indices { matrix.values[index] = Float(1 / (1 + Foundation.exp(-Double(matrix.values[index])))) }
        }
    }

    /// Multiplies `gradient` by the activation's derivative, given the activation's output.
    func backpropagate(_ gradient: inout Matrix, outputs: Matrix) {
        switch self {
        case .relu:
            for index in gradient.values.indices where outputs.values[index] <= 0 { gradient.values[index] = 0 }
        case .tanh:
            for index in gradient.values.indices { gradient.values[index] *= 1 - outputs.values[index] * outputs.values[index] }
        case .sigmoid:
            for index in gradient.values.indices { gradient.values[index] *= outputs.values[index] * (1 - outputs.values[index]) }
        }
    }
}

/// What a trained model was made from and with, saved beside its parameters.
public struct ModelInfo: Sendable, Equatable {
    /// `linear`, `logistic`, ...
    public var framework: String
    public var task: Dataset.Task
    public var featureNames: [String]
    public var classes: [String]
    public var targetName: String
    /// The training op's arguments as resolved, defaults included.
    public var hyperparameters: [(String, HyperparameterValue)]
    public var createdBy: String
    /// The scaling its inputs get before the model sees them.
    public var preprocessing: Scaler?
    /// The BLAS thread count the training ran with.
    public var blasThreads: Int

    public init(
        framework: String, task: Dataset.Task, featureNames: [String], classes: [String], targetName: String,
        hyperparameters: [(String, HyperparameterValue)], createdBy: String, preprocessing: Scaler?,
        blasThreads: Int = 1
    ) {
        self.framework = framework
        self.task = task
        self.featureNames = featureNames
        self.classes = classes
        self.targetName = targetName
        self.hyperparameters = hyperparameters
        self.createdBy = createdBy
        self.preprocessing = preprocessing
        self.blasThreads = blasThreads
    }

    public static func == (lhs: ModelInfo, rhs: ModelInfo) -> Bool {
        lhs.framework == rhs.framework && lhs.task == rhs.task && lhs.featureNames == rhs.featureNames
            && lhs.classes == rhs.classes && lhs.targetName == rhs.targetName && lhs.createdBy == rhs.createdBy
            && lhs.preprocessing == rhs.preprocessing && lhs.blasThreads == rhs.blasThreads
            && lhs.hyperparameters.map(\.0) == rhs.hyperparameters.map(\.0) && lhs.hyperparameters.map(\.1) == rhs.hyperparameters.map(\.1)
    }
}

/// A hyperparameter as a checkpoint stores it: an attribute of `/hyperparameters`.
public typealias HyperparameterValue = HDF5AttributeValue

extension Dataset {
    /// The features as a matrix, rows by features, sharing the dataset's storage.
    public var featureMatrix: Matrix {
        Matrix(rows: rowCount, columns: featureCount, values: features)
    }
}

/// The features of a dataset as a matrix for `info`'s model.
///
/// Training and evaluation ops take data as the pipeline prepared it (already scaled by
/// data/normalize); `model/predict` takes raw data and applies the model's saved preprocessing
/// (`applyingPreprocessing`).
/// - Throws: ``DatasetError`` when the dataset's features are not the model's.
public func modelInputs(_ dataset: Dataset, for info: ModelInfo, applyingPreprocessing: Bool, file: String = "") throws(DatasetError) -> Matrix {
    guard dataset.featureNames == info.featureNames else {
        throw DatasetError(
            file: file,
            "its features (\(dataset.featureNames.prefix(5).joined(separator: ", "))\(dataset.featureCount > 5 ? ", ..." : "")) are not the \(info.featureNames.count) the model was trained on"
        )
    }
    var prepared = dataset
    if applyingPreprocessing, let scaler = info.preprocessing {
        prepared = try scaler.apply(to: dataset, file: file)
    }
    return prepared.featureMatrix
}
