import BlacktailData
import Foundation
import Frameworks
import HDF5
import Testing

@Suite struct ReinforcementTests {
    // MARK: Grid world and Q-learning

    @Test func theGridWorldIsTheDocumentedMaze() {
        let world = GridWorld()
        let picture = (0..<5).map { row in
            String((0..<5).map { column -> Character in
                if row == 0, column == 0 { return "S" }
                switch world.cell(row: row, column: column) {
                case .open: return "."
                case .wall: return "#"
                case .pit: return "O"
                case .goal: return "G"
                }
            })
        }
        #expect(picture == ["S....", "###O.", ".....", ".O###", "....G"])
        #expect(world.optimalSteps == 16)
        #expect([2, 3, 4, 6, 7].map { GridWorld(size: $0).optimalSteps } == [2, 4, 6, 20, 24])
    }

    @Test func theGridWorldRewardsStepsPitsAndTheGoal() {
        var world = GridWorld(size: 3, maximumSteps: 3)
        var random = SeededRandom(seed: 1)
        let first = world.reset(random: &random)
        #expect(world.state(of: first) == 0 && first.count == 9)
        let bump = world.step(0, random: &random)
        #expect(world.state(of: bump.observation) == 0 && bump.reward == -1 && !bump.isDone)
        let right = world.step(1, random: &random)
        #expect(world.state(of: right.observation) == 1)
        let pit = world.step(2, random: &random)
        #expect(pit.reward == GridWorld.pitReward && pit.terminated)
        _ = world.reset(random: &random)
        for _ in 0..<2 { _ = world.step(3, random: &random) }
        let last = world.step(3, random: &random)
        #expect(last.truncated && !last.terminated)
        // A deterministic grid leaves the generator untouched.
        #expect(random == SeededRandom(seed: 1))
    }

    @Test(arguments: [5, 7])
    func qLearningFindsTheShortestWay(size: Int) throws {
        let world = GridWorld(size: size)
        var reports: [MultilayerPerceptron.Epoch] = []
        let table = try QLearning().fit(world) { reports.append($0) }
        #expect(reports.count == 50)
        let optimal = try #require(world.optimalSteps)
        let greedy = try Episodes.evaluate(table, in: world, episodes: 1)
        #expect(greedy.meanLength == Double(optimal))
        #expect(greedy.mean == -Double(optimal))
        #expect(reports.last!.validationScore! > -Double(optimal) - 5)
    }

    @Test func qLearningNeedsDiscreteStates() throws {
        #expect(throws: ReinforcementError.self) { try QLearning().fit(CartPole()) }
    }

    // MARK: Cart-pole and the policy gradient

    @Test func cartPoleFollowsGymsEquations() {
        var pole = CartPole()
        pole.state = (0.01, -0.02, 0.03, 0.04)
        var random = SeededRandom(seed: 0)
        // From Gym's CartPole-v0 step, evaluated in Python.
        let expected: [(Int, [Double])] = [
            (1, [0.009600000000000001, 0.17467919574755525, 0.030799999999999998, -0.2430687179600081]),
            (1, [0.013093583914951107, 0.3693479760579556, 0.025938625640799837, -0.5258796280501483]),
            (0, [0.02048054343611022, 0.17387081260481596, 0.01542103307979687, -0.22513741609237464]),
        ]
        for (action, state) in expected {
            let transition = pole.step(action, random: &random)
            let actual = [pole.state.x, pole.state.velocity, pole.state.angle, pole.state.angularVelocity]
            for (a, b) in zip(actual, state) { #expect(abs(a - b) < 1e-12) }
            #expect(transition.observation == state.map(Float.init))
            #expect(transition.reward == 1 && !transition.isDone)
        }
    }

    @Test func cartPoleEndsLikeGym() {
        var pole = CartPole()
        var random = SeededRandom(seed: 3)
        let start = pole.reset(random: &random)
        #expect(start.allSatisfy { abs($0) <= 0.05 })
        // Pushed right from rest, the pole passes 12° on the ninth step, which still pays 1.
        pole.state = (0, 0, 0, 0)
        var transitions: [Transition] = []
        repeat { transitions.append(pole.step(1, random: &random)) } while !transitions.last!.isDone
        #expect(transitions.count == 9)
        #expect(transitions.last!.terminated && transitions.last!.reward == 1)
        #expect(abs(pole.state.angle - -0.21518604988500967) < 1e-12)

        var short = CartPole(maximumSteps: 6)
        _ = short.reset(random: &random)
        let ends = (0..<6).map { short.step($0 % 2, random: &random) }
        #expect(ends.dropLast().allSatisfy { !$0.isDone })
        #expect(ends.last!.truncated && !ends.last!.terminated)
    }

    @Test func thePolicyGradientBalancesThePole() throws {
        let pole = try Environments.make("cart-pole")
        var reports: [MultilayerPerceptron.Epoch] = []
        let network = try PolicyGradient().fit(pole) { reports.append($0) }
        #expect(reports.count == PolicyGradient().iterations)
        let statistics = try Episodes.evaluate(NetworkPolicy(network), in: pole, episodes: 100, seed: 0)
        #expect(statistics.mean >= 195, "mean return \(statistics.mean) over 100 episodes")
    }

    // MARK: Determinism and evaluation

    @Test func theSameSeedGivesTheSameBits() throws {
        let slippery = GridWorld(size: 4, slip: 0.2)
        var learner = QLearning()
        learner.episodes = 50
        learner.seed = 7
        let table = try learner.fit(slippery)
        #expect(try learner.fit(slippery) == table)
        learner.seed = 8
        #expect(try learner.fit(slippery) != table)

        var trainer = PolicyGradient()
        trainer.iterations = 3
        trainer.entropyBonus = 0.01
        trainer.seed = 7
        let pole = CartPole()
        let first = try trainer.fit(pole)
        #expect(try trainer.fit(pole) == first)
        trainer.seed = 8
        #expect(try trainer.fit(pole) != first)
    }

    @Test func episodesDoNotDependOnEachOther() throws {
        let pole = CartPole()
        var trainer = PolicyGradient()
        trainer.iterations = 2
        let policy = NetworkPolicy(try trainer.fit(pole), sampling: true)
        let ten = try Episodes.evaluate(policy, in: pole, episodes: 10, seed: 4)
        let five = try Episodes.evaluate(policy, in: pole, episodes: 5, seed: 4)
        #expect(Array(ten.returns.prefix(5)) == five.returns)
        #expect(try Episodes.evaluate(policy, in: pole, episodes: 10, seed: 5).returns != ten.returns)
    }

    @Test func returnStatistics() {
        let statistics = ReturnStatistics(returns: [4, 1, 3, 2], lengths: [4, 1, 3, 2])
        #expect(statistics.episodes == 4)
        #expect(statistics.mean == 2.5)
        #expect(statistics.median == 2.5)
        #expect(statistics.minimum == 1 && statistics.maximum == 4)
        #expect(abs(statistics.standardDeviation - 1.25.squareRoot()) < 1e-15)
        #expect(statistics.meanLength == 2.5)
    }

    @Test func aPolicyMustFitItsEnvironment() throws {
        let table = QTable(states: 25, actions: 4)
        #expect(throws: ReinforcementError.self) { try Episodes.evaluate(table, in: GridWorld(size: 4), episodes: 1) }
        #expect(throws: ReinforcementError.self) { try Episodes.evaluate(table, in: CartPole(), episodes: 1) }
        var trainer = PolicyGradient()
        trainer.iterations = 1
        let network = try trainer.fit(CartPole())
        #expect(throws: ReinforcementError.self) { try Episodes.evaluate(NetworkPolicy(network), in: GridWorld(), episodes: 1) }
        #expect(throws: ReinforcementError.self) { try Episodes.evaluate(NetworkPolicy(network), in: CartPole(), episodes: 0) }
    }

    // MARK: The registry

    @Test func theRegistryBuildsEnvironmentsFromSpecs() throws {
        #expect(Environments.names == ["cart-pole", "grid-world"])
        let world = try Environments.make("grid-world", options: ["size": 6, "slip": 0.1])
        #expect(world.spec == EnvironmentSpec(name: "grid-world", options: ["size": 6, "slip": 0.1, "max_steps": 100]))
        #expect(world.stateCount == 36 && world.observationCount == 36 && world.actionCount == 4)
        #expect(try Environments.make(world.spec).spec == world.spec)
        let pole = try Environments.make(EnvironmentSpec(name: "cart-pole"))
        #expect(pole.name == "cart-pole" && pole.maximumSteps == 200 && pole.stateCount == nil)
    }

    @Test(arguments: [
        ("mountain-car", [:], "the known ones are 'cart-pole', 'grid-world'"),
        ("grid-world", ["width": 3], "its options are 'max_steps', 'size', 'slip'"),
        ("grid-world", ["size": 2.5], "not a whole number"),
        ("grid-world", ["size": 1], "not a whole number in 2...32"),
        ("grid-world", ["slip": 1.5], "not a probability"),
        ("cart-pole", ["max_steps": 0], "not a whole number in 1...1000000"),
        ("cart-pole", ["size": 5], "its options are 'max_steps'"),
    ] as [(String, [String: Double], String)])
    func theRegistryRejectsWhatItDoesNotKnow(name: String, options: [String: Double], message: String) {
        #expect {
            try Environments.make(name, options: options)
        } throws: { error in
            (error as? ReinforcementError)?.message.contains(message) == true
        }
    }

    // MARK: Persistence

    @Test func aQTableRoundTripsThroughHDF5() throws {
        let path = temporaryPath("round-trip")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var table = QTable(states: 3, actions: 2)
        table.values = [0.5, -1, 2, 1e-300, -7.25, 3]
        do {
            let file = try HDF5File.create(at: path, overwrite: true)
            defer { file.close() }
            try table.write(to: try file.root.createGroup("parameters"))
        }
        let read = try HDF5File.withFile(at: path) { file in try QTable.read(from: try file.root.group("parameters"), path: path) }
        #expect(read == table)
        #expect(read.action(for: 1) == 0 && read.action(for: 2) == 1)
    }

    @Test(arguments: ["missing", "one-dimensional", "empty", "not finite", "text"])
    func aCorruptQTableIsRejected(corruption: String) throws {
        let path = temporaryPath(corruption.replacingOccurrences(of: " ", with: "-"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let file = try HDF5File.create(at: path, overwrite: true)
            defer { file.close() }
            let root = try file.root
            switch corruption {
            case "missing": try root.writeDataset("other", [1.0])
            case "one-dimensional": try root.writeDataset("q_values", [1.0, 2, 3, 4])
            case "empty": try root.writeDataset("q_values", [Double](), shape: [0, 4])
            case "not finite": try root.writeDataset("q_values", [1.0, .nan, 3, 4], shape: [2, 2])
            default: try root.writeDataset("q_values", strings: ["a", "b"])
            }
        }
        #expect(throws: CheckpointError.self) {
            try HDF5File.withFile(at: path) { file in try QTable.read(from: try file.root, path: path) }
        }
    }

    private func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-rl-\(name)-\(UUID().uuidString).h5").path
    }
}
