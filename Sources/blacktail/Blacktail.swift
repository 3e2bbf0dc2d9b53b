import ArgumentParser

@main
struct Blacktail: AsyncParsableCommand {
    static let version = "0.1.0"

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
        ]
    )
}
