import Engine
import Foundation
import PipelineLanguage

/// A run's record as text: what ran, on what, with what, and how each step ended.
enum RunSummary {
    /// `workspace` is the home whose task folders hold the attempts; nil for a run read from a
    /// coordinator, whose logs 'logs --coordinator' fetches.
    static func text(_ run: RunRecord, tasks: [TaskRecord], workspace: Workspace?) -> String {
        var lines: [String] = []
        let duration = run.startedAt.map { (run.finishedAt ?? Date().timeIntervalSince1970) - $0 }
        lines.append("run \(run.id)  \(run.state.rawValue)\(duration.map { " in " + Duration.seconds($0).short } ?? "")")
        lines.append("  pipeline  \(run.pipeline) (\(run.pipelinePath), sha256 \(run.fileDigest.prefix(12)))")
        if run.params != "{}" { lines.append("  params    \(run.params)") }
        lines.append("  submitted \(timestamp(run.submittedAt)) on \(run.host) (\(run.platform)), blacktail \(run.blacktailVersion)")
        var flags: [String] = []
        if run.priority != 0 { flags.append("priority \(run.priority)") }
        if run.noCache { flags.append("no cache") }
        if run.failFast { flags.append("fail fast") }
        if let key = run.idempotencyKey { flags.append("key \(key)") }
        if !flags.isEmpty { lines.append("  options   \(flags.joined(separator: ", "))") }
        lines.append("")
        let width = min(28, tasks.map(\.spec.nodeID.count).max() ?? 4)
        for task in tasks {
            var line = "  \(RunView.symbol(TaskProgress(task))) \(task.spec.nodeID.padding(toLength: width, withPad: " ", startingAt: 0))  "
                + RunView.stateText(TaskProgress(task)).padding(toLength: 10, withPad: " ", startingAt: 0)
                + " " + RunView.elapsed(TaskProgress(task), now: Date().timeIntervalSince1970).padding(toLength: 7, withPad: " ", startingAt: 0)
            if task.snapshot.attempt > 1 { line += " attempts \(task.snapshot.attempt)" }
            if let worker = task.worker, task.snapshot.state != .waiting { line += " on \(worker)" }
            lines.append(line)
            if let message = task.snapshot.message, task.snapshot.state == .failed || task.snapshot.state == .skipped || task.snapshot.state == .cancelled {
                for text in message.split(separator: "\n") { lines.append("      \(text)") }
            }
            if task.snapshot.state == .failed, let workspace {
                lines.append("      folder: \(workspace.attemptFolder(run: run.id, node: task.spec.nodeID, attempt: task.snapshot.attempt))")
            }
            for output in task.outputs {
                lines.append("      → \(output.name) (\(output.type)) \(output.digest.prefix(12)) \(ByteCount.text(output.size))")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func timestamp(_ time: Double) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }

    /// The whole record as JSON, for `status --format json`.
    static func json(_ run: RunRecord, tasks: [TaskRecord], attempts: [Int64: [AttemptRecord]]) -> JSONValue {
        func artifacts(_ records: [ArtifactRecord]) -> JSONValue {
            .array(records.map { record in
                var object: [String: JSONValue] = [
                    "name": .string(record.name), "type": .string(record.type), "sha256": .string(record.digest), "size": .int(Int(record.size)),
                ]
                if record.position > 0 { object["position"] = .int(record.position) }
                if let source = record.source { object["from"] = .string(source) }
                return .object(object)
            })
        }
        func time(_ value: Double?) -> JSONValue { value.map { .string(timestamp($0)) } ?? .null }
        return .object([
            "id": .string(run.id),
            "state": .string(run.state.rawValue),
            "pipeline": ["name": .string(run.pipeline), "path": .string(run.pipelinePath), "file_sha256": .string(run.fileDigest)],
            "params": (try? JSONSerialization.jsonObject(with: Data(run.params.utf8))).flatMap(JSONValue.init(any:)) ?? .null,
            "priority": .int(run.priority),
            "idempotency_key": run.idempotencyKey.map(JSONValue.string) ?? .null,
            "no_cache": .bool(run.noCache),
            "fail_fast": .bool(run.failFast),
            "submitted_at": time(run.submittedAt),
            "started_at": time(run.startedAt),
            "finished_at": time(run.finishedAt),
            "blacktail_version": .string(run.blacktailVersion),
            "host": .string(run.host),
            "platform": .string(run.platform),
            "project": .string(run.projectDirectory),
            "tasks": .array(tasks.map { task in
                .object([
                    "node": .string(task.spec.nodeID),
                    "action": .string(task.spec.displayAction),
                    "state": .string(task.snapshot.state.rawValue),
                    "message": task.snapshot.message.map(JSONValue.string) ?? .null,
                    "plan_key": .string(task.spec.planKey),
                    "cache_key": task.cacheKey.map(JSONValue.string) ?? .null,
                    "cache_hit": .bool(task.cacheHit),
                    "seed": .string(String(task.spec.seed)),
                    "worker": task.worker.map(JSONValue.string) ?? .null,
                    "started_at": time(task.startedAt),
                    "finished_at": time(task.finishedAt),
                    "inputs": artifacts(task.inputs),
                    "outputs": artifacts(task.outputs),
                    "attempts": .array((attempts[task.snapshot.id] ?? []).map { attempt in
                        .object([
                            "attempt": .int(attempt.attempt),
                            "worker": .string(attempt.worker),
                            "started_at": time(attempt.startedAt),
                            "finished_at": time(attempt.finishedAt),
                            "outcome": attempt.outcome.map(JSONValue.string) ?? .null,
                            "message": attempt.message.map(JSONValue.string) ?? .null,
                        ])
                    }),
                ])
            }),
        ])
    }
}

extension JSONValue {
    /// A value from JSONSerialization's output.
    init?(any value: Any) {
        switch value {
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "f", "d": self = .double(number.doubleValue)
            default: self = .int(number.intValue)
            }
        case let text as String: self = .string(text)
        case let items as [Any]: self = .array(items.compactMap(JSONValue.init(any:)))
        case let object as [String: Any]: self = .object(object.compactMapValues(JSONValue.init(any:)))
        case is NSNull: self = .null
        default: return nil
        }
    }
}
