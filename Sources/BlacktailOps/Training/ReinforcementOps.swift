import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
import PipelineLanguage

/// What the reinforcement-learning ops share: the environment a step names, with its options.
enum ReinforcementOpSupport {
    /// The options an op may set, by argument name: the environment's options of the same names.
    static let optionArguments = ["size", "slip", "max_steps"]

    /// The environment named by `environment`, with the options the step gave.
    static func environment(_ context: OpContext) throws -> (environment: any Environment, spec: EnvironmentSpec) {
        let name = try context.string("environment")
        var options: [String: Double] = [:]
        for option in optionArguments {
            guard let value = context.optionalValue(option)?.number else { continue }
            options[option] = value
        }
        do {
            let environment = try Environments.make(name, options: options)
            return (environment, environment.spec)
        } catch {
            throw OpError("\(context.opName): \(error.message)")
        }
    }

    /// What a reinforcement-learning training reports: the return of recent episodes.
    static func reporter(_ context: OpContext, total: Int) -> (MultilayerPerceptron.Epoch) throws -> Void {
        { progress in
            try context.checkCancellation()
            var metrics = ["loss": progress.loss]
            metrics["mean_return"] = progress.validationScore
            context.progress.report(ProgressUpdate(
                fraction: Double(progress.epoch) / Double(max(total, 1)), epoch: progress.epoch, totalEpochs: total, metrics: metrics
            ))
        }
    }

    static func info(_ context: OpContext, framework: String, spec: EnvironmentSpec) -> ModelInfo {
        ModelInfo(
            framework: framework, task: .reinforcement, featureNames: [], classes: [], targetName: "",
            hyperparameters: ModelOpSupport.hyperparameters(context),
            createdBy: "\(context.opName)@\(BuiltinOps.signature(context.opName).version)",
            preprocessing: nil, blasThreads: context.threadBudget, environment: spec
        )
    }

    /// Evaluates a policy and writes the statistics of its returns as the step's metrics.
    static func writeReturns(_ policy: some Policy, in environment: some Environment, episodes: Int, seed: UInt64, _ context: OpContext) throws -> [String: Double] {
        let statistics: ReturnStatistics
        do {
            statistics = try Episodes.evaluate(policy, in: environment, episodes: episodes, seed: seed)
        } catch {
            throw OpError("\(context.opName): \(error.message)")
        }
        let metrics: [String: Double] = [
            "mean_return": statistics.mean,
            "std_return": statistics.standardDeviation,
            "min_return": statistics.minimum,
            "max_return": statistics.maximum,
            "median_return": statistics.median,
            "mean_length": statistics.meanLength,
            "episodes": Double(statistics.episodes),
        ]
        try ModelOpSupport.writeMetrics(metrics, context)
        return metrics
    }
}

struct QLearningOp: Op {
    let signature = BuiltinOps.signature("train/q-learning")

    func run(_ context: OpContext) async throws {
        let (environment, spec) = try ReinforcementOpSupport.environment(context)
        var learner = QLearning()
        learner.episodes = try context.int("episodes")
        learner.learningRate = try context.double("learning_rate")
        learner.discount = try context.double("discount")
        learner.epsilonStart = try context.double("epsilon_start")
        learner.epsilonEnd = try context.double("epsilon_end")
        learner.epsilonDecay = try context.double("epsilon_decay")
        learner.seed = try DataOpSupport.seed(context)
        let reports = (learner.episodes + learner.episodesPerReport - 1) / learner.episodesPerReport
        let table: QTable
        do {
            table = try learner.fit(environment, report: ReinforcementOpSupport.reporter(context, total: reports))
        } catch let error as ReinforcementError {
            throw OpError("train/q-learning: \(error.message)")
        }
        try Checkpoint.write(.qTable(table), info: ReinforcementOpSupport.info(context, framework: "q-learning", spec: spec), to: try context.outputPath("model"))
        _ = try ReinforcementOpSupport.writeReturns(table, in: environment, episodes: 100, seed: learner.seed, context)
    }
}

struct PolicyGradientOp: Op {
    let signature = BuiltinOps.signature("train/policy-gradient")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(1)
        let (environment, spec) = try ReinforcementOpSupport.environment(context)
        var learner = PolicyGradient()
        guard case .value(.list(let widths))? = context.arguments["hidden"] else { throw OpError("train/policy-gradient: 'hidden' is a list of layer widths") }
        learner.hidden = widths.compactMap { if case .int(let width) = $0 { width } else { nil } }
        guard let activation = DenseNetwork.Activation(rawValue: try context.string("activation")) else {
            throw OpError("train/policy-gradient: unknown activation")
        }
        learner.activation = activation
        learner.learningRate = try context.double("learning_rate")
        learner.discount = try context.double("discount")
        learner.iterations = try context.int("iterations")
        learner.episodesPerIteration = try context.int("episodes_per_iteration")
        learner.entropyBonus = try context.double("entropy_bonus")
        learner.seed = try DataOpSupport.seed(context)
        let network: DenseNetwork
        do {
            network = try learner.fit(environment, report: ReinforcementOpSupport.reporter(context, total: learner.iterations))
        } catch let error as ReinforcementError {
            throw OpError("train/policy-gradient: \(error.message)")
        }
        try Checkpoint.write(.network(network), info: ReinforcementOpSupport.info(context, framework: "policy-gradient", spec: spec), to: try context.outputPath("model"))
        _ = try ReinforcementOpSupport.writeReturns(NetworkPolicy(network), in: environment, episodes: 100, seed: learner.seed, context)
    }
}

struct EvalRLOp: Op {
    let signature = BuiltinOps.signature("eval/rl")

    func run(_ context: OpContext) async throws {
        BLAS.setThreadCount(1)
        let (model, info, path) = try ModelOpSupport.model(context)
        guard let spec = info.environment else {
            throw OpError("eval/rl: \(path) is a \(info.framework) model, not a reinforcement-learning one (it names no environment)")
        }
        // The model's own environment, unless the step names another (with its options).
        let environment: any Environment
        if context.optionalValue("environment") != nil {
            environment = try ReinforcementOpSupport.environment(context).environment
        } else {
            do {
                environment = try Environments.make(spec)
            } catch {
                throw OpError("eval/rl: \(path): \(error.message)")
            }
        }
        let episodes = try context.int("episodes")
        let seed = try DataOpSupport.seed(context)
        let metrics: [String: Double]
        switch model {
        case .qTable(let table):
            metrics = try ReinforcementOpSupport.writeReturns(table, in: environment, episodes: episodes, seed: seed, context)
        case .network(let network):
            let policy = NetworkPolicy(network, sampling: try context.bool("sample_actions"))
            metrics = try ReinforcementOpSupport.writeReturns(policy, in: environment, episodes: episodes, seed: seed, context)
        default:
            throw OpError("eval/rl: \(path) is a \(model.structure) model, which cannot act")
        }
        try ModelOpSupport.gate(metrics, metric: "mean_return", argument: "min_mean_return", context)
    }
}
