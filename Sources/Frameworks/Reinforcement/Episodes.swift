import BlacktailData

/// Episodes of a policy in an environment, and what they returned.
public enum Episodes {
    /// Runs `episodes` episodes of `policy` and summarises their undiscounted returns.
    ///
    /// Episode `i` draws from a generator seeded by (`seed`, `i`) alone, so each episode's result
    /// does not depend on the others or on their order.
    /// - Throws: ``ReinforcementError`` when the policy does not fit the environment or `episodes`
    ///   is not positive.
    public static func evaluate(
        _ policy: some Policy,
        in environment: some Environment,
        episodes: Int = 100,
        seed: UInt64 = 0
    ) throws(ReinforcementError) -> ReturnStatistics {
        guard episodes >= 1 else { throw ReinforcementError("an evaluation needs at least one episode, not \(episodes)") }
        try policy.validate(for: environment)
        var returns: [Double] = []
        var lengths: [Int] = []
        for index in 0..<episodes {
            var random = SeededRandom(seed: episodeSeed(seed, index))
            var episode = environment
            let (total, length) = run(&episode, random: &random) { observation, state, random in
                policy.action(for: observation, state: state, random: &random)
            }
            returns.append(total)
            lengths.append(length)
        }
        return ReturnStatistics(returns: returns, lengths: lengths)
    }

    /// One episode from reset to its end: its undiscounted return and its length.
    static func run(
        _ environment: inout some Environment,
        random: inout SeededRandom,
        choose: (_ observation: [Float], _ state: Int?, _ random: inout SeededRandom) -> Int
    ) -> (total: Double, length: Int) {
        var observation = environment.reset(random: &random)
        var total = 0.0
        var length = 0
        while true {
            let action = choose(observation, environment.state(of: observation), &random)
            let transition = environment.step(action, random: &random)
            total += transition.reward
            length += 1
            observation = transition.observation
            if transition.isDone { return (total, length) }
        }
    }

    /// A seed for one episode of a run: SplitMix64's finaliser over the run's seed and then the
    /// index, so that nearby seeds and indices give unrelated generators.
    static func episodeSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        func mix(_ value: UInt64) -> UInt64 {
            var z = value &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return mix(mix(seed) ^ UInt64(index))
    }
}

/// A summary of episodes' undiscounted returns.
public struct ReturnStatistics: Sendable, Equatable {
    /// Each episode's return and length, in episode order.
    public var returns: [Double]
    public var lengths: [Int]

    public init(returns: [Double], lengths: [Int]) {
        precondition(!returns.isEmpty && returns.count == lengths.count, "one length per return, at least one of each")
        self.returns = returns
        self.lengths = lengths
    }

    public var episodes: Int { returns.count }
    public var mean: Double { returns.reduce(0, +) / Double(returns.count) }
    /// The population standard deviation (dividing by the number of episodes).
    public var standardDeviation: Double {
        let mean = mean
        return (returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count)).squareRoot()
    }
    public var minimum: Double { returns.min()! }
    public var maximum: Double { returns.max()! }
    /// The middle return, or the mean of the two middle ones.
    public var median: Double {
        let sorted = returns.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    public var meanLength: Double { Double(lengths.reduce(0, +)) / Double(lengths.count) }
}
