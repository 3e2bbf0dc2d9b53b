import ArgumentParser
import Cluster
import Engine
import Foundation

@main
struct Blacktail: AsyncParsableCommand {
    static let version = Submitter.blacktailVersion

    static let configuration = CommandConfiguration(
        commandName: "blacktail",
        abstract: "Compile, plan and run machine-learning pipelines written as YAML files.",
        version: version,
        subcommands: [
            Validate.self,
            PlanCommand.self,
            Graph.self,
            Ops.self,
            Schema.self,
            DataCommand.self,
            RunCommand.self,
            SubmitCommand.self,
            WorkerCommand.self,
            RunsCommand.self,
            StatusCommand.self,
            LogsCommand.self,
            CancelCommand.self,
            RetryCommand.self,
            ScheduleCommand.self,
            SchedulerCommand.self,
            GCCommand.self,
            KeysCommand.self,
            MarketCommand.self,
            PredictCommand.self,
            ReproduceCommand.self,
            ServeCommand.self,
            AgentCommand.self,
            NodesCommand.self,
        ]
    )

    /// Runs the command; a failure the user can act on (a missing run, a store that cannot be
    /// opened, a step too big for this machine) is one line, `error: ...`, and exit status 1.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            fail(error.description)
        } catch let error as EngineError {
            fail(error.message)
        } catch let error as CoordinatorClient.Unreachable {
            fail(error.description)
        } catch let problem as Wire.Problem {
            fail(problem.error)
        } catch {
            exit(withError: error)
        }
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}
