import Engine
import Foundation
import Synchronization

/// Shows a run as it goes: on a terminal, a table of every step (state, elapsed time, training
/// progress) redrawn in place; elsewhere, one line per event.
final class RunView: Sendable {
    private let store: any RunStore
    private let workspace: Workspace
    private let live: Bool
    private let state = Mutex(ViewState())

    private struct ViewState {
        var lastStates: [String: String] = [:]
        var lastEpochs: [String: Int] = [:]
        var drawnLines = 0
    }

    init(store: any RunStore, workspace: Workspace, live: Bool) {
        self.store = store
        self.workspace = workspace
        self.live = live
    }

    /// A line for the reader, printed above the live table.
    func note(_ line: String) {
        state.withLock { view in
            if live { clear(&view) }
            print(line)
        }
    }

    /// Shows the run as it goes, until the task is cancelled (the worker has finished); `finish`
    /// then shows the last events and the summary.
    func follow(runID: String) async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            var took = Duration.zero
            do {
                took = try await clock.measure { try await show(runID: runID) }
            } catch {
                // Cancelled, or a look that failed: the next look, or `finish`, shows what it missed.
            }
            // A look at a run of many thousand tasks takes milliseconds: in a long run, the view
            // costs at most a twentieth of one core.
            try? await Task.sleep(for: max(.milliseconds(live ? 200 : 250), took * 20))
        }
    }

    /// Shows what happened since the last look, then the run's summary.
    func finish(runID: String) async throws {
        try await show(runID: runID)
        guard let run = try await store.run(runID) else { return }
        state.withLock { view in view.drawnLines = 0 }
        print(RunSummary.text(run, tasks: try await store.tasks(runID: runID), workspace: workspace))
    }

    private func show(runID: String) async throws {
        let tasks = try await store.taskProgress(runID: runID)
        let now = Date().timeIntervalSince1970
        state.withLock { view in
            if live {
                clear(&view)
                let lines = table(tasks, now: now)
                print(lines.joined(separator: "\n"))
                view.drawnLines = lines.count
            } else {
                events(tasks, now: now, view: &view)
            }
        }
    }

    private func clear(_ view: inout ViewState) {
        guard view.drawnLines > 0 else { return }
        print("\u{1B}[\(view.drawnLines)A\u{1B}[J", terminator: "")
        view.drawnLines = 0
    }

    // MARK: Live table

    private func table(_ tasks: [TaskProgress], now: Double) -> [String] {
        let width = min(28, tasks.map(\.nodeID.count).max() ?? 4)
        let shown: [TaskProgress]
        if tasks.count <= 30 {
            shown = tasks
        } else {
            shown = tasks.filter { $0.state == .running || $0.state == .failed }.prefix(25).map { $0 }
        }
        var lines = shown.map { task -> String in
            let id = task.nodeID.count > width ? String(task.nodeID.prefix(width - 1)) + "…" : task.nodeID.padding(toLength: width, withPad: " ", startingAt: 0)
            var line = "\(Self.symbol(task)) \(id)  \(Self.stateText(task).padding(toLength: 10, withPad: " ", startingAt: 0)) \(Self.elapsed(task, now: now).padding(toLength: 7, withPad: " ", startingAt: 0))"
            if task.state == .running, let progress = Progress(json: task.progress) {
                line += "  " + progress.bar(now: now, startedAt: task.startedAt)
            } else if let message = task.message, task.state != .succeeded {
                line += "  " + (message.split(separator: "\n").first.map(String.init) ?? "")
            }
            return line
        }
        if tasks.count > shown.count {
            var counts: [TaskState: Int] = [:]
            for task in tasks { counts[task.state, default: 0] += 1 }
            lines.append(TaskState.allCases.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }.joined(separator: ", "))
        }
        return lines
    }

    static func symbol(_ task: TaskProgress) -> String {
        switch task.state {
        case .waiting: "·"
        case .ready: "○"
        case .running: "▸"
        case .succeeded: "✓"
        case .failed: "✗"
        case .skipped: "–"
        case .cancelled: "⊘"
        }
    }

    static func stateText(_ task: TaskProgress) -> String {
        if task.state == .succeeded, task.cacheHit { return "cached" }
        if task.state == .running, task.attempt > 1 { return "running #\(task.attempt)" }
        return task.state.rawValue
    }

    static func elapsed(_ task: TaskProgress, now: Double) -> String {
        guard let started = task.startedAt else { return "" }
        let end = task.finishedAt ?? (task.state == .running ? now : started)
        return Duration.seconds(max(0, end - started)).short
    }

    // MARK: Event lines

    private func events(_ tasks: [TaskProgress], now: Double, view: inout ViewState) {
        for task in tasks {
            let id = task.nodeID
            let state = Self.stateText(task)
            if view.lastStates[id] != state, task.state != .waiting, task.state != .ready || view.lastStates[id] != nil {
                view.lastStates[id] = state
                var line = "\(Self.clock(now)) \(id) \(state)"
                if task.state.isFinished, !Self.elapsed(task, now: now).isEmpty { line += " in \(Self.elapsed(task, now: now))" }
                if let message = task.message, task.state != .succeeded { line += ": \(message)" }
                print(line)
            }
            if task.state == .running, let progress = Progress(json: task.progress), let epoch = progress.epoch, let total = progress.totalEpochs {
                let step = max(1, total / 10)
                if epoch / step != (view.lastEpochs[id] ?? 0) / step || epoch == total, view.lastEpochs[id] != epoch {
                    view.lastEpochs[id] = epoch
                    print("\(Self.clock(now)) \(id) \(progress.summary)")
                }
            }
        }
        fflush(nil)
    }

    static func clock(_ time: Double) -> String {
        let seconds = Int(time) % 86_400
        return String(format: "%02d:%02d:%02d", seconds / 3600, seconds % 3600 / 60, seconds % 60)
    }
}

/// A task's latest progress report, as the worker stored it.
struct Progress {
    var fraction: Double?
    var epoch: Int?
    var totalEpochs: Int?
    var metrics: [String: Double]
    var message: String?

    init?(json: String?) {
        guard let json, let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        fraction = object["fraction"] as? Double
        epoch = object["epoch"] as? Int
        totalEpochs = object["total_epochs"] as? Int
        metrics = (object["metrics"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.doubleValue }
        message = object["message"] as? String
    }

    var done: Double? {
        if let epoch, let totalEpochs, totalEpochs > 0 { return Double(epoch) / Double(totalEpochs) }
        return fraction
    }

    var summary: String {
        var parts: [String] = []
        if let epoch, let totalEpochs { parts.append("epoch \(epoch)/\(totalEpochs)") }
        for name in metrics.keys.sorted() { parts.append("\(name) \(Self.number(metrics[name]!))") }
        if let message { parts.append(message) }
        return parts.joined(separator: "  ")
    }

    func bar(now: Double, startedAt: Double?) -> String {
        guard let done else { return summary }
        let width = 20
        let filled = Int((done * Double(width)).rounded(.down))
        var text = "▕" + String(repeating: "█", count: min(width, filled)) + String(repeating: "░", count: max(0, width - filled)) + "▏ " + summary
        if let startedAt, done > 0, done < 1 {
            let remaining = (now - startedAt) * (1 - done) / done
            text += "  ETA \(Duration.seconds(remaining).short)"
        }
        return text
    }

    static func number(_ value: Double) -> String {
        abs(value) >= 1000 ? String(format: "%.0f", value) : String(format: "%.4g", value)
    }
}
