import Foundation
public import BlacktailNumerics

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
