import Foundation
public import PipelineLanguage

/// Enqueues the runs of cron schedules: each due tick exactly once, even with several schedulers
/// on one store, because a tick is taken by inserting its (schedule, tick) row, which only one
/// transaction can do.
public struct Scheduler: Sendable {
    /// The most missed ticks one check submits under `catch-up`.
    public static let catchUpLimit = 100

    public var store: any RunStore
    /// Builds the run of a schedule (compiles its pipeline with its parameters).
    public var makeSubmission: @Sendable (ScheduleRecord) async throws -> Submission

    public init(store: any RunStore, makeSubmission: @escaping @Sendable (ScheduleRecord) async throws -> Submission) {
        self.store = store
        self.makeSubmission = makeSubmission
    }

    /// The ticks of a schedule that are due at `now` and not yet dealt with, oldest first, after
    /// the missed-tick policy.
    public static func dueTicks(_ schedule: ScheduleRecord, now: Int64) throws -> [Int64] {
        let cron = try CronSchedule(schedule.cron)
        let start = schedule.checkedThrough > 0 ? schedule.checkedThrough : Int64(schedule.createdAt)
        var ticks: [Int64] = []
        var cursor = start
        while let next = cron.nextFire(after: cursor), next <= now {
            ticks.append(next)
            if ticks.count > catchUpLimit { ticks.removeFirst() }
            cursor = next
        }
        switch schedule.missed {
        case .skip: return ticks.last.map { [$0] } ?? []
        case .catchUp: return ticks
        }
    }

    public struct TickResult: Sendable {
        public var schedule: String
        public var tick: Int64
        /// nil when another scheduler had taken the tick.
        public var runID: String?
        public var error: String?
    }

    /// Submits every due tick of every schedule.
    public func check(now: Double) async throws -> [TickResult] {
        var results: [TickResult] = []
        for schedule in try await store.schedules() {
            let ticks: [Int64]
            do {
                ticks = try Self.dueTicks(schedule, now: Int64(now))
            } catch {
                results.append(TickResult(schedule: schedule.name, tick: 0, error: "\(error)"))
                continue
            }
            for tick in ticks {
                do {
                    var submission = try await makeSubmission(schedule)
                    submission.idempotencyKey = "schedule:\(schedule.name):\(tick)"
                    let runID = try await store.submitTick(schedule: schedule.name, tick: tick, submission: submission, now: now)
                    results.append(TickResult(schedule: schedule.name, tick: tick, runID: runID))
                } catch {
                    results.append(TickResult(schedule: schedule.name, tick: tick, error: "\(error)"))
                }
            }
            if let last = ticks.last {
                try await store.markScheduleChecked(name: schedule.name, through: last)
            } else if schedule.checkedThrough == 0 {
                try await store.markScheduleChecked(name: schedule.name, through: Int64(now))
            }
        }
        return results
    }
}
