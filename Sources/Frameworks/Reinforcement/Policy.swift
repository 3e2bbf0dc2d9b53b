public import BlacktailData
import Foundation

/// A way to choose actions in an environment: a learnt Q-table or policy network.
public protocol Policy: Sendable {
    /// The action for an observation and, in a discrete environment, its state.
    func action(for observation: [Float], state: Int?, random: inout SeededRandom) -> Int

    /// - Throws: ``ReinforcementError`` when the policy cannot act in the environment (its states,
    ///   observations or actions are not the policy's).
    func validate(for environment: some Environment) throws(ReinforcementError)
}

extension QTable: Policy {
    /// The greedy action of the observation's state.
    public func action(for observation: [Float], state: Int?, random: inout SeededRandom) -> Int {
        guard let state else { preconditionFailure("a Q-table acts only in an environment with discrete states") }
        return action(for: state)
    }

    public func validate(for environment: some Environment) throws(ReinforcementError) {
        guard environment.stateCount == states, environment.actionCount == actions else {
            throw ReinforcementError(
                "the Q-table has \(states) states and \(actions) actions, but '\(environment.name)' has \(environment.stateCount.map(String.init) ?? "no discrete") states and \(environment.actionCount) actions"
            )
        }
    }
}

/// A policy network's actions: the most probable, or drawn from its probabilities.
public struct NetworkPolicy: Policy {
    /// A network with a softmax output, one probability per action.
    public var network: DenseNetwork
    /// Whether to draw actions rather than take the most probable one.
    public var sampling: Bool

    public init(_ network: DenseNetwork, sampling: Bool = false) {
        self.network = network
        self.sampling = sampling
    }

    public func action(for observation: [Float], state: Int?, random: inout SeededRandom) -> Int {
        let probabilities = network.probabilities(for: observation)
        return sampling ? Self.draw(probabilities, &random) : Self.argmax(probabilities)
    }

    public func validate(for environment: some Environment) throws(ReinforcementError) {
        guard network.output == .softmax, network.inputCount == environment.observationCount, network.outputCount == environment.actionCount else {
            throw ReinforcementError(
                "the network (\(network.inputCount) inputs, \(network.outputCount) \(network.output.rawValue) outputs) is not a policy for '\(environment.name)' (\(environment.observationCount) observations, \(environment.actionCount) actions)"
            )
        }
    }

    static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for index in 1..<values.count where values[index] > values[best] { best = index }
        return best
    }

    static func draw(_ probabilities: [Float], _ random: inout SeededRandom) -> Int {
        var remaining = Float(random.nextUnit())
        for (index, probability) in probabilities.enumerated() {
            remaining -= probability
            if remaining < 0 { return index }
        }
        // Rounding can leave the probabilities a little short of 1.
        return probabilities.count - 1
    }
}

extension DenseNetwork {
    /// The outputs for one input, computed in plain loops: an agent asks for one at every step,
    /// where a matrix product's set-up would cost more than the arithmetic.
    func probabilities(for input: [Float]) -> [Float] {
        var current = input
        for (index, layer) in layers.enumerated() {
            let (rows, columns) = (layer.weights.rows, layer.weights.columns)
            var next = layer.bias
            current.withUnsafeBufferPointer { x in
                layer.weights.values.withUnsafeBufferPointer { w in
                    next.withUnsafeMutableBufferPointer { y in
                        for row in 0..<rows {
                            let value = x[row]
                            if value == 0 { continue }
                            let base = row * columns
                            for column in 0..<columns { y[column] += value * w[base + column] }
                        }
                    }
                }
            }
            if index < layers.count - 1 {
                switch activation {
                case .relu: for column in 0..<columns where next[column] < 0 { next[column] = 0 }
                case .tanh: for column in 0..<columns { next[column] = Float(Foundation.tanh(Double(next[column]))) }
                case .sigmoid: for column in 0..<columns { next[column] = Float(1 / (1 + Foundation.exp(-Double(next[column])))) }
                }
            } else if output == .softmax {
                var largest = -Float.infinity
                for value in next { largest = max(largest, value) }
                var total: Float = 0
                for column in 0..<columns {
                    next[column] = Float(Foundation.exp(Double(next[column] - largest)))
                    total += next[column]
                }
                for column in 0..<columns { next[column] /= total }
            }
            current = next
        }
        return current
    }
}
