public import BlacktailData

/// A square maze walked from the top-left corner to the goal in the bottom-right one.
///
/// Every odd row above the last is a barrier with one gap, alternately at its right and its left
/// end, so the way winds down the grid; the barrier's cell beside each gap is a pit, the others are
/// walls. At the default size of 5:
///
///     S . . . .
///     # # # O .
///     . . . . .
///     . O # # #
///     . . . . G
///
/// Each step costs -1, the step into the goal included, so a walk's return is minus its length and
/// the best return is `-optimalSteps` (-16 at size 5). A step into a pit ends the episode with -100.
/// A step into a wall or off the grid leaves the agent where it was. With probability `slip` the
/// agent moves in a direction drawn uniformly from the four instead of the one it chose.
///
/// Actions: 0 up, 1 right, 2 down, 3 left. The observation is the one-hot encoding of the agent's
/// cell, row by row, and the state is that cell's index.
public struct GridWorld: Environment {
    public enum Cell: Sendable, Equatable {
        case open
        case wall
        case pit
        case goal
    }

    /// The sizes the registry accepts.
    public static let sizes = 2...32
    public static let stepReward = -1.0
    public static let pitReward = -100.0

    public let size: Int
    public let slip: Double
    public let maximumSteps: Int
    /// The agent's cell, as `row * size + column`.
    public private(set) var position = 0
    public private(set) var steps = 0

    public init(size: Int = 5, slip: Double = 0, maximumSteps: Int = 100) {
        precondition(size >= 2, "a grid world is at least 2 x 2")
        precondition(slip >= 0 && slip <= 1, "the slip is a probability")
        precondition(maximumSteps >= 1, "an episode has at least one step")
        self.size = size
        self.slip = slip
        self.maximumSteps = maximumSteps
    }

    public var spec: EnvironmentSpec {
        EnvironmentSpec(name: "grid-world", options: ["size": Double(size), "slip": slip, "max_steps": Double(maximumSteps)])
    }

    public var observationCount: Int { size * size }
    public var actionCount: Int { 4 }
    public var stateCount: Int? { size * size }
    public var start: Int { 0 }
    public var goal: Int { size * size - 1 }

    public func cell(row: Int, column: Int) -> Cell {
        if row == size - 1, column == size - 1 { return .goal }
        guard row % 2 == 1, row < size - 1 else { return .open }
        let gap = (row / 2) % 2 == 0 ? size - 1 : 0
        let beside = gap == 0 ? 1 : size - 2
        if column == gap { return .open }
        return column == beside ? .pit : .wall
    }

    /// The fewest steps from the start to the goal, without slips (breadth-first search); nil when
    /// the goal cannot be reached.
    public var optimalSteps: Int? {
        var distance = [Int?](repeating: nil, count: size * size)
        distance[start] = 0
        var queue = [start]
        var next = 0
        while next < queue.count {
            let current = queue[next]
            next += 1
            if current == goal { return distance[current] }
            // Pits end the episode, so no walk goes on through one.
            guard case .open = cell(row: current / size, column: current % size) else { continue }
            for action in 0..<4 {
                let target = move(from: current, action)
                if distance[target] == nil {
                    distance[target] = distance[current]! + 1
                    queue.append(target)
                }
            }
        }
        return nil
    }

    public mutating func reset(random: inout SeededRandom) -> [Float] {
        position = start
        steps = 0
        return observation
    }

    public mutating func step(_ action: Int, random: inout SeededRandom) -> Transition {
        precondition((0..<4).contains(action), "grid-world actions are 0..<4")
        var direction = action
        // The draw is made only when slips are possible, so a deterministic grid leaves the
        // generator as it was.
        if slip > 0, random.nextUnit() < slip { direction = random.nextIndex(below: 4) }
        position = move(from: position, direction)
        steps += 1
        let landed = cell(row: position / size, column: position % size)
        let terminated = landed == .goal || landed == .pit
        return Transition(
            observation: observation,
            reward: landed == .pit ? Self.pitReward : Self.stepReward,
            terminated: terminated,
            truncated: !terminated && steps >= maximumSteps
        )
    }

    public func state(of observation: [Float]) -> Int? {
        observation.firstIndex(of: 1)
    }

    private var observation: [Float] {
        var oneHot = [Float](repeating: 0, count: size * size)
        oneHot[position] = 1
        return oneHot
    }

    /// Where an action leads from a cell when it does not slip.
    public func move(from position: Int, _ action: Int) -> Int {
        var (row, column) = (position / size, position % size)
        switch action {
        case 0: row -= 1
        case 1: column += 1
        case 2: row += 1
        default: column -= 1
        }
        guard (0..<size).contains(row), (0..<size).contains(column), cell(row: row, column: column) != .wall else { return position }
        return row * size + column
    }
}
