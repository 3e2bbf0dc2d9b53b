public import BlacktailData
import Foundation

/// A pole balanced on a cart: OpenAI Gym's CartPole-v0, with its constants, its Euler integration
/// and its ends.
///
/// The state is (x, ẋ, θ, θ̇), computed in double precision and observed as Float. Action 0 pushes
/// the cart left and 1 right with a force of 10 N. Every step is worth 1, the one that ends the
/// episode included. An episode terminates when the pole leans more than 12° (0.2095 rad) or the
/// cart leaves ±2.4, and is truncated after 200 steps, so the best return is 200; Gym counts the
/// task solved at a mean return of 195 over 100 episodes.
public struct CartPole: Environment {
    public static let defaultMaximumSteps = 200
    public static let gravity = 9.8
    public static let cartMass = 1.0
    public static let poleMass = 0.1
    /// Half the pole's length.
    public static let poleHalfLength = 0.5
    public static let force = 10.0
    /// Seconds between steps.
    public static let tau = 0.02
    public static let angleLimit = 12 * 2 * Double.pi / 360
    public static let positionLimit = 2.4

    public let maximumSteps: Int
    /// (x, ẋ, θ, θ̇).
    public var state: (x: Double, velocity: Double, angle: Double, angularVelocity: Double) = (0, 0, 0, 0)
    public private(set) var steps = 0

    public init(maximumSteps: Int = CartPole.defaultMaximumSteps) {
        precondition(maximumSteps >= 1, "an episode has at least one step")
        self.maximumSteps = maximumSteps
    }

    public var spec: EnvironmentSpec { EnvironmentSpec(name: "cart-pole", options: ["max_steps": Double(maximumSteps)]) }
    public var observationCount: Int { 4 }
    public var actionCount: Int { 2 }

    /// Starts with each of the four state variables uniform in [-0.05, 0.05).
    public mutating func reset(random: inout SeededRandom) -> [Float] {
        state.x = random.nextUnit() * 0.1 - 0.05
        state.velocity = random.nextUnit() * 0.1 - 0.05
        state.angle = random.nextUnit() * 0.1 - 0.05
        state.angularVelocity = random.nextUnit() * 0.1 - 0.05
        steps = 0
        return observation
    }

    public mutating func step(_ action: Int, random: inout SeededRandom) -> Transition {
        precondition(action == 0 || action == 1, "cart-pole actions are 0 and 1")
        let totalMass = Self.cartMass + Self.poleMass
        let poleMassLength = Self.poleMass * Self.poleHalfLength
        let force = action == 1 ? Self.force : -Self.force
        let cosine = cos(state.angle)
        let sine = sin(state.angle)
        let temp = (force + poleMassLength * state.angularVelocity * state.angularVelocity * sine) / totalMass
        let angularAcceleration = (Self.gravity * sine - cosine * temp)
            / (Self.poleHalfLength * (4.0 / 3.0 - Self.poleMass * cosine * cosine / totalMass))
        let acceleration = temp - poleMassLength * angularAcceleration * cosine / totalMass
        // Gym's explicit Euler: positions move with the old velocities.
        state.x += Self.tau * state.velocity
        state.velocity += Self.tau * acceleration
        state.angle += Self.tau * state.angularVelocity
        state.angularVelocity += Self.tau * angularAcceleration
        steps += 1
        let terminated = abs(state.x) > Self.positionLimit || abs(state.angle) > Self.angleLimit
        return Transition(observation: observation, reward: 1, terminated: terminated, truncated: !terminated && steps >= maximumSteps)
    }

    private var observation: [Float] {
        [Float(state.x), Float(state.velocity), Float(state.angle), Float(state.angularVelocity)]
    }
}
