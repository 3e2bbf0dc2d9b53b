import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage
import Synchronization

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Run pipelines on cron schedules (the 'blacktail scheduler' process submits their runs).",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a schedule, from --cron or else the pipeline's own schedule: (times in UTC)."
        )

        @Argument(help: "The pipeline file.")
        var file: String

        @Option(help: "The schedule's name (default: the pipeline's name).")
        var name: String?

        @Option(help: ArgumentHelp("A cron expression, such as '0 3 * * 1'.", valueName: "expression"))
        var cron: String?

        @Option(help: "What to do with ticks missed while no scheduler ran: skip (run the latest only) or catch-up (run each).")
        var missed: ScheduleRecord.MissedTicks = .skip

        @OptionGroup var parameters: ParameterOptions
        @OptionGroup var home: HomeOptions

        func run() async throws {
            let plan = try await CompilerFrontend.plan(file, parameters: parameters, registry: try home.open().1)
            let expression = cron ?? plan.schedules.first
            guard let expression else {
                throw CLIError("\(file) has no schedule:; give one with --cron '0 3 * * *'")
            }
            do {
                _ = try CronSchedule(expression)
            } catch {
                throw CLIError("--cron '\(expression)': \(error.message)")
            }
            if cron == nil, plan.schedules.count > 1 {
                throw CLIError("\(file) has \(plan.schedules.count) schedules; add each with --cron and its own --name")
            }
            let (_, store) = try home.open()
            let record = ScheduleRecord(
                name: name ?? plan.pipelineName,
                pipelinePath: Workspace.absolute(file),
                projectDirectory: FileManager.default.currentDirectoryPath,
                cron: expression,
                params: parameters.parameters,
                missed: missed,
                createdAt: now(),
                checkedThrough: 0
            )
            try await store.saveSchedule(record)
            print("schedule \(record.name): \(expression) (UTC) runs \(file); 'blacktail scheduler' submits its runs")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules and when each runs next.")

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (_, store) = try home.open()
            let schedules = try await store.schedules()
            if schedules.isEmpty { print("no schedules") }
            for schedule in schedules {
                let next = (try? CronSchedule(schedule.cron))?.nextFire(after: Int64(now())).map { RunSummary.timestamp(Double($0)) } ?? "never"
                print("\(schedule.name)  \(schedule.cron)  \(schedule.pipelinePath)  missed: \(schedule.missed.rawValue)  next: \(next)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a schedule (its runs stay).")

        @Argument(help: "The schedule's name.")
        var name: String

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (_, store) = try home.open()
            guard try await store.removeSchedule(name: name) else { throw CLIError("no schedule '\(name)'") }
            print("schedule \(name) removed")
        }
    }
}

extension ScheduleRecord.MissedTicks: ExpressibleByArgument {}

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Submit the runs of due schedule ticks, each exactly once, even with several schedulers on one store."
    )

    @Option(help: ArgumentHelp("Seconds between checks.", valueName: "seconds"))
    var interval: Double = 15

    @Flag(help: "Check once and exit.")
    var once = false

    @OptionGroup var home: HomeOptions

    func run() async throws {
        let (_, store) = try home.open()
        let scheduler = PipelineScheduling.scheduler(store: store, registry: store)
        let stopped = StopFlag()
        let interrupt = InterruptHandler { stopped.stop() }
        defer { interrupt.cancel() }
        repeat {
            await PipelineScheduling.check(scheduler)
            if once { break }
            try await Task.sleep(for: .seconds(interval))
        } while !stopped.isStopped
    }
}

/// The scheduler of pipeline files, shared by `scheduler` and `serve`.
enum PipelineScheduling {
    /// Compiles a schedule's pipeline at each due tick. With `artifacts`, the project files a
    /// run reads are copied there and named by digest, for agents that do not have the folder.
    static func scheduler(store: any RunStore, registry: (any MarketRegistry)?, recordingFilesIn artifacts: ArtifactStore? = nil) -> Scheduler {
        Scheduler(store: store) { schedule in
            let parameters = try ParameterOptions.parse(schedule.params.flatMap { ["-p", $0] })
            let compilation = await CompilerFrontend.compilation(of: schedule.pipelinePath, parameters: try parameters.parsed(), registry: registry)
            guard let plan = compilation.plan, !compilation.hasErrors else {
                throw CLIError("\(schedule.pipelinePath) no longer compiles:\n" + DiagnosticRenderer.text(compilation.diagnostics, in: compilation.source))
            }
            let submission = Submitter.submission(
                plan: plan, pipelinePath: schedule.pipelinePath, projectDirectory: schedule.projectDirectory,
                signatures: BuiltinOps.catalogue.signatures
            )
            return try artifacts.map { try submission.recordingProjectFiles(in: $0) } ?? submission
        }
    }

    /// Submits the due ticks' runs, and says what happened.
    static func check(_ scheduler: Scheduler) async {
        do {
            for result in try await scheduler.check(now: now()) {
                let tick = RunSummary.timestamp(Double(result.tick))
                if let error = result.error {
                    FileHandle.standardError.write(Data("schedule \(result.schedule) at \(tick): \(error)\n".utf8))
                } else if let runID = result.runID {
                    print("schedule \(result.schedule) at \(tick): run \(runID) submitted")
                }
            }
        } catch {
            FileHandle.standardError.write(Data("schedules: \(error)\n".utf8))
        }
        fflush(nil)
    }
}

/// A flag set from a signal handler.
final class StopFlag: Sendable {
    private let flag = Mutex(false)
    func stop() { flag.withLock { $0 = true } }
    var isStopped: Bool { flag.withLock { $0 } }
}
