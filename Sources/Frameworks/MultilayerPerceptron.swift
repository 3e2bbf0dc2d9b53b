public import BlacktailData
import Foundation
import BlacktailNumerics

/// A multilayer perceptron trained with minibatch SGD with momentum or Adam, an L2 penalty, a
/// learning-rate schedule and early stopping on a validation set.
///
/// Everything random (initial weights, minibatch order) comes from one ``SeededRandom``, and the
/// state saved between epochs (``TrainingState``) is complete: training resumed from a checkpoint
/// ends with the same parameters, bit for bit, as training that was never interrupted.
public struct MultilayerPerceptron: Sendable {
    public enum Loss: String, Sendable {
        case crossEntropy = "cross-entropy"
        case meanSquaredError = "mse"
    }

    public enum Optimizer: String, Sendable {
        case adam
        case sgd
    }

    public enum Schedule: String, Sendable {
        case constant
        /// Halved every quarter of the epochs.
        case step
        /// Cosine decay from the learning rate to zero over the epochs.
        case cosine
    }

    public var hidden: [Int] = [64]
    public var activation: DenseNetwork.Activation = .relu
    /// Cross-entropy for classification and MSE for regression when nil.
    public var loss: Loss?
    public var optimizer: Optimizer = .adam
    public var learningRate: Double = 0.001
    public var momentum: Double = 0.9
    public var schedule: Schedule = .constant
    public var l2: Double = 0.0001
    public var batchSize: Int = 64
    public var epochs: Int = 50
    public var patience: Int = 10
    public var seed: UInt64 = 0
    /// The first layers, from the input, that training leaves as they are (transfer learning).
    public var frozenLayers: Int = 0

    static let beta1 = 0.9
    static let beta2 = 0.999
    static let epsilon = 1e-8

    public init() {}

    /// One epoch's report.
    public struct Epoch: Sendable {
        public var epoch: Int
        public var loss: Double
        public var validationScore: Double?
    }

    /// A fresh network and state: weights uniform in ±√(6 / (inputs + outputs)), biases zero.
    public func start(inputs: Int, outputs: Int, output: DenseNetwork.Output) -> (DenseNetwork, TrainingState) {
        var random = SeededRandom(seed: seed)
        let widths = [inputs] + hidden + [outputs]
        let layers = (0..<(widths.count - 1)).map { Self.freshLayer(inputs: widths[$0], outputs: widths[$0 + 1], random: &random) }
        let network = DenseNetwork(layers: layers, activation: activation, output: output)
        return (network, freshState(for: network, random: random))
    }

    /// A layer with weights uniform in ±√(6 / (inputs + outputs)) and biases zero.
    static func freshLayer(inputs: Int, outputs: Int, random: inout SeededRandom) -> DenseLayer {
        let limit = (6.0 / Double(inputs + outputs)).squareRoot()
        let weights = (0..<(inputs * outputs)).map { _ in Float((random.nextUnit() * 2 - 1) * limit) }
        return DenseLayer(weights: Matrix(rows: inputs, columns: outputs, values: weights), bias: [Float](repeating: 0, count: outputs))
    }

    /// The state before the first epoch of training `network`: zero moments.
    func freshState(for network: DenseNetwork, random: SeededRandom) -> TrainingState {
        let zeros = network.layers.map { DenseLayer(weights: Matrix(rows: $0.weights.rows, columns: $0.weights.columns), bias: [Float](repeating: 0, count: $0.bias.count)) }
        return TrainingState(epoch: 0, random: random, firstMoments: zeros, secondMoments: optimizer == .adam ? zeros : [])
    }

    /// Trains from `network` and `state` (fresh from ``start(inputs:outputs:output:)``, or read
    /// from a checkpoint: resume from `state.current ?? model`) until `epochs`, or `stopAfter`
    /// epochs when given, or early stopping.
    ///
    /// - Returns: the network to use (the best by validation when there is a validation set) and
    ///   the state to save, which holds the current parameters when they are not the best.
    /// - Throws: ``DatasetError`` for data the network cannot learn from; what `report` throws.
    public func train(
        _ train: Dataset,
        validation: Dataset? = nil,
        from network: DenseNetwork,
        state: TrainingState,
        stopAfter: Int? = nil,
        file: String = "",
        report: (Epoch) throws -> Void = { _ in }
    ) throws -> (model: DenseNetwork, state: TrainingState) {
        let isClassification = network.output == .softmax
        let lossFunction = loss ?? (isClassification ? .crossEntropy : .meanSquaredError)
        let targets = try Self.targetMatrix(train, outputs: network.outputCount, file: file)
        let rows = targets.rows.indices
        guard !rows.isEmpty else { throw DatasetError(file: file, "the training set has no labelled rows") }
        let features = train.featureMatrix
        var network = network
        var state = state
        // Adam's bias corrections, β^t, by repeated multiplication (the same on every platform, and
        // the same whether the training was resumed or not).
        var powers = (beta1: 1.0, beta2: 1.0)
        for _ in 0..<state.step {
            powers.beta1 *= Self.beta1
            powers.beta2 *= Self.beta2
        }
        let lastEpoch = min(epochs, stopAfter ?? epochs)
        while state.epoch < lastEpoch, !state.stopped {
            state.epoch += 1
            let rate = rate(at: state.epoch)
            var order = targets.rows
            state.random.shuffle(&order)
            var lossSum = 0.0
            var start = 0
            while start < order.count {
                let batch = Array(order[start..<min(order.count, start + batchSize)])
                start += batchSize
                lossSum += step(
                    &network, &state, &powers,
                    inputs: features.rows(batch), targets: targets.values.rows(batch),
                    loss: lossFunction, rate: rate
                )
            }
            var validationScore: Double?
            if let validation {
                let score = try Self.score(network, on: validation, file: file)
                validationScore = score
                if state.best == nil || score > state.bestScore {
                    state.best = network
                    state.bestScore = score
                    state.epochsWithoutImprovement = 0
                } else {
                    state.epochsWithoutImprovement += 1
                    if state.epochsWithoutImprovement >= patience { state.stopped = true }
                }
            }
            try report(Epoch(epoch: state.epoch, loss: lossSum / Double(order.count), validationScore: validationScore))
        }
        state.current = state.best == nil ? nil : network
        return (state.best ?? network, state)
    }

    /// The learning rate for an epoch (1-based).
    func rate(at epoch: Int) -> Double {
        switch schedule {
        case .constant: return learningRate
        case .step:
            let period = max(1, epochs / 4)
            var rate = learningRate
            for _ in 0..<((epoch - 1) / period) { rate *= 0.5 }
            return rate
        case .cosine:
            return learningRate * 0.5 * (1 + Foundation.cos(Double.pi * Double(epoch - 1) / Double(max(epochs, 1))))
        }
    }

    /// One minibatch: forward, backward, and an optimizer step. Returns the batch's summed loss.
    private func step(
        _ network: inout DenseNetwork,
        _ state: inout TrainingState,
        _ powers: inout (beta1: Double, beta2: Double),
        inputs: Matrix,
        targets: Matrix,
        loss: Loss,
        rate: Double
    ) -> Double {
        let activations = network.forward(inputs)
        let outputs = activations.last!
        let batch = Float(inputs.rows)
        var lossSum = 0.0
        var gradient = outputs
        switch loss {
        case .crossEntropy:
            for index in gradient.values.indices where targets.values[index] > 0 {
                lossSum -= Double(targets.values[index]) * log(max(Double(outputs.values[index]), 1e-12))
            }
            // With a softmax output, the gradient of cross-entropy is probabilities minus targets.
            for index in gradient.values.indices { gradient.values[index] -= targets.values[index] }
        case .meanSquaredError:
            for index in gradient.values.indices {
                let delta = outputs.values[index] - targets.values[index]
                lossSum += Double(delta * delta)
                gradient.values[index] = delta
            }
        }
        gradient.scale(by: 1 / batch)
        state.step += 1
        powers.beta1 *= Self.beta1
        powers.beta2 *= Self.beta2
        // Frozen layers are neither updated nor passed a gradient.
        for layerIndex in stride(from: network.layers.count - 1, through: frozenLayers, by: -1) {
            var weightGradient = Matrix.product(activations[layerIndex], gradient, transposeA: true)
            weightGradient.add(network.layers[layerIndex].weights, scaledBy: Float(l2))
            let biasGradient = gradient.columnSums()
            if layerIndex > frozenLayers {
                var previous = Matrix.product(gradient, network.layers[layerIndex].weights, transposeB: true)
                network.activation.backpropagate(&previous, outputs: activations[layerIndex])
                gradient = previous
            }
            update(&network.layers[layerIndex], &state, layerIndex, weightGradient.values, biasGradient, rate: rate, powers: powers)
        }
        return lossSum
    }

    private func update(
        _ layer: inout DenseLayer,
        _ state: inout TrainingState,
        _ index: Int,
        _ weightGradient: [Float],
        _ biasGradient: [Float],
        rate: Double,
        powers: (beta1: Double, beta2: Double)
    ) {
        // The moments are taken out of the state while they are updated, so the loops below work on
        // plain buffers, not through the state's nested arrays.
        var first = DenseLayer(weights: Matrix(rows: 0, columns: 0), bias: [])
        swap(&first, &state.firstMoments[index])
        defer { swap(&first, &state.firstMoments[index]) }
        switch optimizer {
        case .sgd:
            let mu = Float(momentum)
            let lr = Float(rate)
            Self.sgd(&layer.weights.values, &first.weights.values, weightGradient, mu: mu, lr: lr)
            Self.sgd(&layer.bias, &first.bias, biasGradient, mu: mu, lr: lr)
        case .adam:
            var second = DenseLayer(weights: Matrix(rows: 0, columns: 0), bias: [])
            swap(&second, &state.secondMoments[index])
            defer { swap(&second, &state.secondMoments[index]) }
            let stepSize = Float(rate * (1 - powers.beta2).squareRoot() / (1 - powers.beta1))
            Self.adam(&layer.weights.values, &first.weights.values, &second.weights.values, weightGradient, stepSize: stepSize)
            Self.adam(&layer.bias, &first.bias, &second.bias, biasGradient, stepSize: stepSize)
        }
    }

    private static func sgd(_ parameters: inout [Float], _ velocity: inout [Float], _ gradient: [Float], mu: Float, lr: Float) {
        parameters.withUnsafeMutableBufferPointer { p in
            velocity.withUnsafeMutableBufferPointer { v in
                gradient.withUnsafeBufferPointer { g in
                    for i in 0..<g.count {
                        v[i] = mu * v[i] - lr * g[i]
                        p[i] += v[i]
                    }
                }
            }
        }
    }

    static func adam(_ parameters: inout [Float], _ first: inout [Float], _ second: inout [Float], _ gradient: [Float], stepSize: Float) {
        let (b1, b2, eps) = (Float(beta1), Float(beta2), Float(epsilon))
        parameters.withUnsafeMutableBufferPointer { p in
            first.withUnsafeMutableBufferPointer { m in
                second.withUnsafeMutableBufferPointer { v in
                    gradient.withUnsafeBufferPointer { g in
                        for i in 0..<g.count {
                            m[i] = b1 * m[i] + (1 - b1) * g[i]
                            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                            p[i] -= stepSize * m[i] / (v[i].squareRoot() + eps)
                        }
                    }
                }
            }
        }
    }

    /// The rows that have a target, and the targets as a matrix with one row per dataset row
    /// (one-hot classes, or the values; an unlabelled row is all zeros and is never trained on).
    private static func targetMatrix(_ dataset: Dataset, outputs: Int, file: String) throws(DatasetError) -> (rows: [Int], values: Matrix) {
        switch dataset.targets {
        case .classes(let ids):
            var values = Matrix(rows: ids.count, columns: outputs)
            for (row, id) in ids.enumerated() where id >= 0 {
                guard Int(id) < outputs else { throw DatasetError(file: file, "class id \(id) is beyond the network's \(outputs) outputs") }
                values[row, Int(id)] = 1
            }
            return (ids.indices.filter { ids[$0] >= 0 }, values)
        case .values(let targets):
            return (Array(targets.indices), Matrix(rows: targets.count, columns: 1, values: targets.map(Float.init)))
        }
    }

    /// The validation score early stopping maximises: accuracy, or the negative mean squared error.
    static func score(_ network: DenseNetwork, on dataset: Dataset, file: String) throws(DatasetError) -> Double {
        let outputs = network.outputs(dataset.featureMatrix)
        switch dataset.targets {
        case .classes(let ids):
            let predicted = outputs.argmaxRows()
            let labelled = ids.indices.filter { ids[$0] >= 0 }
            return labelled.isEmpty ? 0 : Double(labelled.count { predicted[$0] == Int(ids[$0]) }) / Double(labelled.count)
        case .values(let values):
            var squared = 0.0
            for index in values.indices {
                let delta = Double(outputs.values[index]) - values[index]
                squared += delta * delta
            }
            return -squared / Double(max(values.count, 1))
        }
    }
}
