import BlacktailData

/// Tabular Q-learning with ε-greedy exploration, for environments with discrete states.
///
/// Every episode starts from the generator seeded with `seed`, which also draws the exploration, so
/// the same configuration and environment give the same table, bit for bit.
public struct QLearning: Sendable {
    public var episodes: Int = 500
    /// α: how far each update moves a value towards its target.
    public var learningRate: Double = 0.5
    /// γ: the weight of the next step's value in a target.
    public var discount: Double = 0.99
    /// ε, the chance of a random action, starts here and is multiplied by `epsilonDecay` after each
    /// episode, down to `epsilonEnd`.
    public var epsilonStart: Double = 1
    public var epsilonEnd: Double = 0.01
    public var epsilonDecay: Double = 0.99
    /// Episodes between reports.
    public var episodesPerReport: Int = 10
    public var seed: UInt64 = 0

    public init() {}

    /// Learns a table of action values by interacting with `environment`.
    ///
    /// After every `episodesPerReport` episodes (and after the last), `report` gets the report's
    /// number, the mean absolute temporal-difference error of those episodes' updates as `loss`, and
    /// their mean return as `validationScore`.
    /// - Throws: ``ReinforcementError`` when the environment has no discrete states or the
    ///   configuration is out of range; what `report` throws.
    public func fit(_ environment: some Environment, report: (MultilayerPerceptron.Epoch) throws -> Void = { _ in }) throws -> QTable {
        guard let states = environment.stateCount, states > 0 else {
            throw ReinforcementError("Q-learning needs an environment with discrete states, and '\(environment.name)' has none; use the policy gradient")
        }
        try validate()
        var environment = environment
        var table = QTable(states: states, actions: environment.actionCount)
        var random = SeededRandom(seed: seed)
        var epsilon = epsilonStart
        var group = (episodes: 0, returns: 0.0, errors: 0.0, updates: 0, reports: 0)
        for episode in 1...episodes {
            var observation = environment.reset(random: &random)
            var state = try Self.state(of: observation, in: environment, states: states)
            var episodeReturn = 0.0
            while true {
                let action = random.nextUnit() < epsilon ? random.nextIndex(below: table.actions) : greedy(table, state, &random)
                let transition = environment.step(action, random: &random)
                observation = transition.observation
                let next = try Self.state(of: observation, in: environment, states: states)
                // A terminated episode has no future; a truncated one does, and bootstraps from it.
                let target = transition.reward + (transition.terminated ? 0 : discount * table.value(of: next))
                let error = target - table[state, action]
                table[state, action] += learningRate * error
                group.errors += abs(error)
                group.updates += 1
                episodeReturn += transition.reward
                state = next
                if transition.isDone { break }
            }
            epsilon = max(epsilonEnd, epsilon * epsilonDecay)
            group.episodes += 1
            group.returns += episodeReturn
            if group.episodes == episodesPerReport || episode == episodes {
                group.reports += 1
                try report(MultilayerPerceptron.Epoch(
                    epoch: group.reports,
                    loss: group.errors / Double(max(group.updates, 1)),
                    validationScore: group.returns / Double(group.episodes)
                ))
                group = (0, 0, 0, 0, group.reports)
            }
        }
        return table
    }

    /// The greedy action while learning, ties broken at random: with every value still zero, the
    /// first action would always be taken and the others never tried.
    private func greedy(_ table: QTable, _ state: Int, _ random: inout SeededRandom) -> Int {
        let best = table.value(of: state)
        let tied = (0..<table.actions).filter { table[state, $0] == best }
        return tied.count == 1 ? tied[0] : tied[random.nextIndex(below: tied.count)]
    }

    private static func state(of observation: [Float], in environment: some Environment, states: Int) throws(ReinforcementError) -> Int {
        guard let state = environment.state(of: observation), (0..<states).contains(state) else {
            throw ReinforcementError("'\(environment.name)' gave an observation with no state in 0..<\(states)")
        }
        return state
    }

    private func validate() throws(ReinforcementError) {
        guard episodes >= 1 else { throw ReinforcementError("episodes is \(episodes); it must be at least 1") }
        guard episodesPerReport >= 1 else { throw ReinforcementError("episodesPerReport is \(episodesPerReport); it must be at least 1") }
        guard learningRate > 0, learningRate <= 1 else { throw ReinforcementError("the learning rate is \(learningRate); it must be in (0, 1]") }
        guard discount >= 0, discount <= 1 else { throw ReinforcementError("the discount is \(discount); it must be in [0, 1]") }
        for (name, value) in [("epsilonStart", epsilonStart), ("epsilonEnd", epsilonEnd), ("epsilonDecay", epsilonDecay)] {
            guard value >= 0, value <= 1 else { throw ReinforcementError("\(name) is \(value); it must be in [0, 1]") }
        }
    }
}
