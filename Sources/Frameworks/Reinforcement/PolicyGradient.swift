import BlacktailData
import Foundation
import BlacktailNumerics

/// REINFORCE: a softmax policy network trained with Adam on the returns of its own episodes.
///
/// Each iteration plays `episodesPerIteration` episodes, drawing actions from the policy, and takes
/// one Adam step on all their steps together. A step's weight is its discounted return to the end of
/// its episode, normalised over the iteration's steps (less their mean, over their standard
/// deviation): the mean is the baseline, and the scale keeps the step size the same as returns
/// grow. An optional entropy bonus keeps the policy from settling too early.
///
/// The initial weights are ``MultilayerPerceptron/start(inputs:outputs:output:)``'s for the same
/// seed, and everything after draws from the generator that leaves, so the same configuration and
/// environment give the same network, bit for bit (with the same BLAS thread count).
public struct PolicyGradient: Sendable {
    public var hidden: [Int] = [32]
    public var activation: DenseNetwork.Activation = .tanh
    public var learningRate: Double = 0.005
    /// γ, which discounts later rewards in a step's return.
    public var discount: Double = 0.99
    public var iterations: Int = 200
    public var episodesPerIteration: Int = 10
    /// The weight of the policy's mean entropy in the objective.
    public var entropyBonus: Double = 0
    public var seed: UInt64 = 0

    public init() {}

    /// Learns a policy network for `environment`: observations in, action probabilities out.
    ///
    /// After each iteration `report` gets its number, its policy loss (the mean over its steps of
    /// minus the log-probability of the action taken times the step's weight) as `loss`, and the
    /// mean return of its episodes as `validationScore`.
    /// - Throws: ``ReinforcementError`` when the configuration is out of range; what `report`
    ///   throws.
    public func fit(_ environment: some Environment, report: (MultilayerPerceptron.Epoch) throws -> Void = { _ in }) throws -> DenseNetwork {
        try validate(environment)
        var initialiser = MultilayerPerceptron()
        initialiser.hidden = hidden
        initialiser.activation = activation
        initialiser.seed = seed
        initialiser.optimizer = .adam
        var (network, state) = initialiser.start(inputs: environment.observationCount, outputs: environment.actionCount, output: .softmax)
        var random = state.random
        var environment = environment
        var powers = (beta1: 1.0, beta2: 1.0)
        for iteration in 1...iterations {
            var batch = Batch()
            var returns = 0.0
            for _ in 0..<episodesPerIteration {
                returns += play(network, in: &environment, into: &batch, random: &random)
            }
            batch.normaliseWeights()
            powers.beta1 *= MultilayerPerceptron.beta1
            powers.beta2 *= MultilayerPerceptron.beta2
            let loss = update(&network, &state, batch, powers: powers)
            try report(MultilayerPerceptron.Epoch(epoch: iteration, loss: loss, validationScore: returns / Double(episodesPerIteration)))
        }
        return network
    }

    /// The steps of an iteration's episodes: what was observed, what was done, and each step's
    /// weight in the gradient.
    struct Batch {
        var observations: [Float] = []
        var actions: [Int] = []
        var weights: [Double] = []

        var count: Int { actions.count }

        mutating func normaliseWeights() {
            let mean = weights.reduce(0, +) / Double(count)
            let variance = weights.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
            // Returns that are all equal (all rewards zero, say) carry no signal.
            let scale = variance > 1e-12 ? 1 / variance.squareRoot() : 0
            for index in weights.indices { weights[index] = (weights[index] - mean) * scale }
        }
    }

    /// Plays one episode with actions drawn from `network`, adds its steps to `batch` with their
    /// discounted returns as weights, and returns its undiscounted return.
    private func play(_ network: DenseNetwork, in environment: inout some Environment, into batch: inout Batch, random: inout SeededRandom) -> Double {
        var observation = environment.reset(random: &random)
        var rewards: [Double] = []
        while true {
            let action = NetworkPolicy.draw(network.probabilities(for: observation), &random)
            batch.observations.append(contentsOf: observation)
            batch.actions.append(action)
            let transition = environment.step(action, random: &random)
            rewards.append(transition.reward)
            observation = transition.observation
            if transition.isDone { break }
        }
        var future = 0.0
        var returns = [Double](repeating: 0, count: rewards.count)
        for index in stride(from: rewards.count - 1, through: 0, by: -1) {
            future = rewards[index] + discount * future
            returns[index] = future
        }
        batch.weights.append(contentsOf: returns)
        return rewards.reduce(0, +)
    }

    /// One Adam step on the batch's policy loss (less the entropy bonus); returns that loss.
    private func update(_ network: inout DenseNetwork, _ state: inout TrainingState, _ batch: Batch, powers: (beta1: Double, beta2: Double)) -> Double {
        let count = batch.count
        let actionCount = network.outputCount
        let activations = network.forward(Matrix(rows: count, columns: network.inputCount, values: batch.observations))
        let probabilities = activations.last!
        var gradient = probabilities
        var loss = 0.0
        probabilities.values.withUnsafeBufferPointer { p in
            gradient.values.withUnsafeMutableBufferPointer { g in
                for step in 0..<count {
                    let base = step * actionCount
                    let action = batch.actions[step]
                    let weight = batch.weights[step] / Double(count)
                    loss -= batch.weights[step] * log(max(Double(p[base + action]), 1e-12))
                    // The gradient of -weight · log p(action) with respect to the logits.
                    for column in 0..<actionCount { g[base + column] = Float(weight) * p[base + column] }
                    g[base + action] -= Float(weight)
                    guard entropyBonus > 0 else { continue }
                    var entropy = 0.0
                    for column in 0..<actionCount {
                        let probability = max(Double(p[base + column]), 1e-12)
                        entropy -= probability * log(probability)
                    }
                    for column in 0..<actionCount {
                        let probability = max(Double(p[base + column]), 1e-12)
                        g[base + column] += Float(entropyBonus / Double(count) * probability * (log(probability) + entropy))
                    }
                }
            }
        }
        state.step += 1
        let stepSize = Float(learningRate * (1 - powers.beta2).squareRoot() / (1 - powers.beta1))
        for layerIndex in stride(from: network.layers.count - 1, through: 0, by: -1) {
            let weightGradient = Matrix.product(activations[layerIndex], gradient, transposeA: true)
            let biasGradient = gradient.columnSums()
            if layerIndex > 0 {
                var previous = Matrix.product(gradient, network.layers[layerIndex].weights, transposeB: true)
                network.activation.backpropagate(&previous, outputs: activations[layerIndex])
                gradient = previous
            }
            MultilayerPerceptron.adam(
                &network.layers[layerIndex].weights.values, &state.firstMoments[layerIndex].weights.values,
                &state.secondMoments[layerIndex].weights.values, weightGradient.values, stepSize: stepSize
            )
            MultilayerPerceptron.adam(
                &network.layers[layerIndex].bias, &state.firstMoments[layerIndex].bias,
                &state.secondMoments[layerIndex].bias, biasGradient, stepSize: stepSize
            )
        }
        return loss / Double(count)
    }

    private func validate(_ environment: some Environment) throws(ReinforcementError) {
        guard iterations >= 1 else { throw ReinforcementError("iterations is \(iterations); it must be at least 1") }
        guard episodesPerIteration >= 1 else { throw ReinforcementError("episodesPerIteration is \(episodesPerIteration); it must be at least 1") }
        guard hidden.allSatisfy({ $0 >= 1 }) else { throw ReinforcementError("the hidden widths \(hidden) must all be at least 1") }
        guard learningRate > 0 else { throw ReinforcementError("the learning rate is \(learningRate); it must be positive") }
        guard discount >= 0, discount <= 1 else { throw ReinforcementError("the discount is \(discount); it must be in [0, 1]") }
        guard entropyBonus >= 0 else { throw ReinforcementError("the entropy bonus is \(entropyBonus); it must not be negative") }
        guard environment.observationCount >= 1, environment.actionCount >= 2 else {
            throw ReinforcementError("'\(environment.name)' has \(environment.observationCount) observations and \(environment.actionCount) actions; a policy needs at least 1 and 2")
        }
    }
}
