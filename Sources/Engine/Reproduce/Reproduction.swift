import Foundation

/// Re-executing a recorded run and comparing what it makes with what the run made.
///
/// The reproduction is a new run of the recorded plan (the task specs as they were stored, not a
/// recompiled file) with caching off, reading every project file as the original read it (from
/// the artifact store, by its recorded digest). Steps with side effects (`market/publish`) and
/// the steps after them are not run again; steps that did not succeed in the original are
/// compared by state only.
public enum Reproduction {
    /// The new run, and the original's steps it leaves out (with why).
    public static func submission(of runID: String, store: any RunStore, sideEffectOps: Set<String>, now: Date = Date()) async throws -> (Submission, left: [String: String]) {
        guard let run = try await store.run(runID) else { throw EngineError("the store has no run \(runID)") }
        guard run.state.isFinished else { throw EngineError("run \(run.id) is \(run.state.rawValue); reproduce it once it has ended") }
        guard let plan = try await store.plan(runID: run.id) else { throw EngineError("run \(run.id) has no recorded plan") }
        let tasks = try await store.tasks(runID: run.id).sorted { $0.index < $1.index }
        var left: [String: String] = [:]
        var specs: [TaskSpec] = []
        for task in tasks {
            var spec = task.spec
            if case .op(let name, _) = spec.action, sideEffectOps.contains(name) {
                left[spec.nodeID] = "\(name) changes the world outside the run; it is not done again"
                continue
            }
            if let upstream = spec.needs.first(where: { left[$0] != nil }) {
                left[spec.nodeID] = "it needs \(upstream), which is not run again"
                continue
            }
            // Project files as the original read them.
            spec.arguments = spec.arguments.map { named in
                guard case .projectFile(let path) = named.argument,
                      let record = task.inputs.first(where: { $0.name == named.name && $0.type == "file" }) else { return named }
                var pinned = named
                pinned.argument = .recordedFile(path: path, sha256: record.digest)
                return pinned
            }
            specs.append(spec)
        }
        let submission = Submission(
            runID: Submitter.newRunID(now),
            pipeline: run.pipeline,
            pipelinePath: run.pipelinePath,
            projectDirectory: run.projectDirectory,
            fileDigest: run.fileDigest,
            params: run.params,
            plan: plan,
            noCache: true,
            deterministic: true,
            blacktailVersion: Submitter.blacktailVersion,
            host: ProcessInfo.processInfo.hostName,
            platform: Submitter.platform,
            tasks: specs
        )
        return (submission, left)
    }

    /// How one step's outputs compare.
    public struct StepComparison: Sendable {
        public var node: String
        public var originalState: TaskState
        public var reproducedState: TaskState?
        /// The outputs compared and found identical.
        public var identical: [String]
        /// The outputs that differ, with how.
        public var differences: [(output: String, difference: Difference)]
        /// Why the step was not compared, or not re-run.
        public var note: String?

        public var matches: Bool { differences.isEmpty && note == nil && reproducedState == originalState }
    }

    public struct Report: Sendable {
        public var originalRun: String
        public var reproducedRun: String
        public var steps: [StepComparison]

        /// Every compared step gave the same states and bytes (steps left out on purpose aside).
        public var isIdentical: Bool {
            steps.allSatisfy { $0.matches || ($0.reproducedState == nil && $0.note != nil) }
        }
        public var outputCount: Int { steps.reduce(0) { $0 + $1.identical.count + $1.differences.count } }
    }

    public static func compare(original runID: String, reproduced newRunID: String, left: [String: String], store: any RunStore, artifacts: ArtifactStore) async throws -> Report {
        let original = try await store.tasks(runID: runID).sorted { $0.index < $1.index }
        let reproduced = Dictionary(try await store.tasks(runID: newRunID).map { ($0.spec.nodeID, $0) }, uniquingKeysWith: { first, _ in first })
        var steps: [StepComparison] = []
        for task in original {
            let node = task.spec.nodeID
            var step = StepComparison(node: node, originalState: task.snapshot.state, reproducedState: reproduced[node]?.snapshot.state, identical: [], differences: [])
            if let reason = left[node] {
                step.note = "not run again: \(reason)"
            } else if let again = reproduced[node] {
                if again.snapshot.state != task.snapshot.state {
                    step.note = "was \(task.snapshot.state.rawValue), now \(again.snapshot.state.rawValue)" + (again.snapshot.message.map { ": \($0)" } ?? "")
                }
                let outputs = Dictionary(again.outputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                for output in task.outputs {
                    guard let copy = outputs[output.name] else { continue }
                    if copy.digest == output.digest {
                        step.identical.append(output.name)
                        continue
                    }
                    let difference: Difference
                    if let before = try? artifacts.verifiedPath(output.digest), let after = try? artifacts.verifiedPath(copy.digest),
                       let found = OutputComparison.compare(original: before, reproduced: after, type: output.type) {
                        difference = found
                    } else {
                        difference = Difference(original: output.digest, reproduced: copy.digest, type: output.type, method: .bytes, entries: [
                            Difference.Entry(kind: .unreadable, path: "", message: "the digests differ, and one of the files is missing from the artifact store or damaged"),
                        ])
                    }
                    step.differences.append((output.name, difference))
                }
            } else {
                step.note = "missing from the reproduction"
            }
            steps.append(step)
        }
        return Report(originalRun: runID, reproducedRun: newRunID, steps: steps)
    }
}
