public import BlacktailData

/// A reinforcement-learning environment: an episode starts with ``reset(random:)`` and goes on with
/// ``step(_:random:)`` until a transition is terminated or truncated.
///
/// Everything random in an environment (its start, slips) comes from the generator its caller
/// passes, so an episode is a function of the generator's state and the actions taken.
public protocol Environment: Sendable {
    /// The registry's name (``Environments``).
    var name: String { get }
    /// The name and options, defaults included, that ``Environments`` makes it again from.
    var spec: EnvironmentSpec { get }
    /// The length of every observation.
    var observationCount: Int { get }
    /// Actions are the integers 0..<actionCount.
    var actionCount: Int { get }
    /// The number of discrete states, for tabular methods; nil for a continuous environment.
    var stateCount: Int? { get }
    /// The steps after which an episode is truncated.
    var maximumSteps: Int { get }

    /// Starts an episode and returns its first observation.
    mutating func reset(random: inout SeededRandom) -> [Float]

    /// Takes an action (in 0..<actionCount) in an episode that has not ended.
    mutating func step(_ action: Int, random: inout SeededRandom) -> Transition

    /// The discrete state an observation of this environment shows, in 0..<stateCount; nil for a
    /// continuous environment.
    func state(of observation: [Float]) -> Int?
}

extension Environment {
    public var name: String { spec.name }
    public var stateCount: Int? { nil }
    public func state(of observation: [Float]) -> Int? { nil }
}

/// What one step of an environment gave.
public struct Transition: Sendable, Equatable {
    public var observation: [Float]
    public var reward: Double
    /// The episode reached an end state (a goal, a pit, a fallen pole): nothing follows it.
    public var terminated: Bool
    /// The episode ran out of steps; the state it stopped in still had a future.
    public var truncated: Bool

    public init(observation: [Float], reward: Double, terminated: Bool, truncated: Bool) {
        self.observation = observation
        self.reward = reward
        self.terminated = terminated
        self.truncated = truncated
    }

    /// Whether the episode is over.
    public var isDone: Bool { terminated || truncated }
}

/// An environment's name and options: what a checkpoint stores to build the environment again.
public struct EnvironmentSpec: Sendable, Hashable {
    public var name: String
    public var options: [String: Double]

    public init(name: String, options: [String: Double] = [:]) {
        self.name = name
        self.options = options
    }
}

/// What went wrong in reinforcement learning: an unknown environment or option, a learner given an
/// environment it cannot work with, a policy that does not fit its environment.
public struct ReinforcementError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The environments Blacktail knows by name.
public enum Environments {
    /// The known names, in order.
    public static var names: [String] { ["cart-pole", "grid-world"] }

    /// The options each environment takes, with their defaults.
    public static func defaultOptions(for name: String) throws(ReinforcementError) -> [String: Double] {
        switch name {
        case "cart-pole": return ["max_steps": Double(CartPole.defaultMaximumSteps)]
        case "grid-world": return ["size": 5, "slip": 0, "max_steps": 100]
        default: throw unknown(name)
        }
    }

    /// A new environment by name, with options that replace the defaults.
    /// - Throws: ``ReinforcementError`` for an unknown name, an unknown option or a value out of
    ///   range; the message lists what is known.
    public static func make(_ name: String, options: [String: Double] = [:]) throws(ReinforcementError) -> any Environment {
        var resolved = try defaultOptions(for: name)
        for (option, value) in options.sorted(by: { $0.key < $1.key }) {
            guard resolved[option] != nil else {
                throw ReinforcementError(
                    "'\(name)' has no option '\(option)'; its options are \(resolved.keys.sorted().map { "'\($0)'" }.joined(separator: ", "))"
                )
            }
            resolved[option] = value
        }
        let maximumSteps = try wholeNumber(resolved["max_steps"]!, "max_steps", of: name, in: 1...1_000_000)
        switch name {
        case "cart-pole":
            return CartPole(maximumSteps: maximumSteps)
        default:
            let size = try wholeNumber(resolved["size"]!, "size", of: name, in: GridWorld.sizes)
            let slip = resolved["slip"]!
            guard slip >= 0, slip <= 1 else { throw ReinforcementError("'\(name)' option 'slip' is \(slip), not a probability in [0, 1]") }
            return GridWorld(size: size, slip: slip, maximumSteps: maximumSteps)
        }
    }

    /// The environment a spec names.
    /// - Throws: ``ReinforcementError`` as ``make(_:options:)`` does.
    public static func make(_ spec: EnvironmentSpec) throws(ReinforcementError) -> any Environment {
        try make(spec.name, options: spec.options)
    }

    private static func unknown(_ name: String) -> ReinforcementError {
        ReinforcementError("there is no environment '\(name)'; the known ones are \(names.map { "'\($0)'" }.joined(separator: ", "))")
    }

    private static func wholeNumber(_ value: Double, _ option: String, of name: String, in range: ClosedRange<Int>) throws(ReinforcementError) -> Int {
        guard value.isFinite, value.rounded() == value, value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            throw ReinforcementError("'\(name)' option '\(option)' is \(value), not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(value)
    }
}
