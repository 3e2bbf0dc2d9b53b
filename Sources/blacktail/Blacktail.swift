import ArgumentParser
import Engine

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
        ]
    )
}
