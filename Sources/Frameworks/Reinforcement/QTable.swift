/// Action values for a discrete environment: one row of `actions` values per state.
public struct QTable: Sendable, Equatable {
    public private(set) var states: Int
    public private(set) var actions: Int
    /// The values, state after state.
    public var values: [Double]

    /// A table of zeros.
    public init(states: Int, actions: Int) {
        self.init(states: states, actions: actions, values: [Double](repeating: 0, count: states * actions))
    }

    public init(states: Int, actions: Int, values: [Double]) {
        precondition(states > 0 && actions > 0, "a Q-table has at least one state and one action")
        precondition(values.count == states * actions, "\(values.count) values do not fill \(states) states x \(actions) actions")
        self.states = states
        self.actions = actions
        self.values = values
    }

    public subscript(state: Int, action: Int) -> Double {
        get { values[state * actions + action] }
        set { values[state * actions + action] = newValue }
    }

    /// The greedy action: the one of highest value, the first on a tie.
    public func action(for state: Int) -> Int {
        let base = state * actions
        var best = 0
        for action in 1..<actions where values[base + action] > values[base + best] { best = action }
        return best
    }

    /// The value of the greedy action.
    public func value(of state: Int) -> Double {
        self[state, action(for: state)]
    }
}
