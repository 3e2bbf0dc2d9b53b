import Engine
import Foundation

/// The bodies of the coordinator's API, shared by the server and its clients. docs/openapi.yaml
/// describes them; `ClusterAPITests` keeps the two in step.
public enum Wire {
    public struct Registration: Codable, Sendable {
        public var host: String
        public var pid: Int
        public var cpu: Double
        public var memoryBytes: Int64?
        public var gpus: [String]
        public var labels: [String]
    }

    public struct Identity: Codable, Sendable {
        public var node: String
        public var role: NodeRecord.Role
        public var state: NodeRecord.State
    }

    public struct Claim: Codable, Sendable {
        public var free: Capacity
        public var limit: Int
        public var leaseSeconds: Double
        /// How long to wait for a task when none is ready (a long poll); at most 30 seconds.
        public var waitSeconds: Double

        public init(free: Capacity, limit: Int, leaseSeconds: Double, waitSeconds: Double) {
            self.free = free
            self.limit = limit
            self.leaseSeconds = leaseSeconds
            self.waitSeconds = waitSeconds
        }
    }

    public struct Claimed: Codable, Sendable {
        public var tasks: [ClaimedTask]
    }

    public struct Heartbeat: Codable, Sendable {
        public var taskID: Int64
        public var attempt: Int
        public var leaseSeconds: Double
    }

    public struct HeartbeatResult: Codable, Sendable {
        /// False when the attempt is no longer this node's: its lease lapsed and it was claimed
        /// again, or it was completed.
        public var held: Bool
        public var cancelRequested: Bool
    }

    public struct Report: Codable, Sendable {
        public var completion: Completion
        /// When set, the node's next tasks are claimed in the same transaction.
        public var claim: Claim?
        /// The attempt's small log files (``smallLogBytes`` at most each, UTF-8) by name, written
        /// to its folder once the report is accepted; larger ones are uploaded before the report.
        public var logs: [String: String]?
        /// The run of the task, with `logs`.
        public var runID: String?

        public init(completion: Completion, claim: Claim? = nil, logs: [String: String]? = nil, runID: String? = nil) {
            self.completion = completion
            self.claim = claim
            self.logs = logs
            self.runID = runID
        }
    }

    public struct Progress: Codable, Sendable {
        public var runID: String
        public var taskID: Int64
        public var attempt: Int
        public var progress: String

        public init(runID: String, taskID: Int64, attempt: Int, progress: String) {
            self.runID = runID
            self.taskID = taskID
            self.attempt = attempt
            self.progress = progress
        }
    }

    public struct Submitted: Codable, Sendable {
        public var runID: String
        public var created: Bool
    }

    public struct RunDetail: Codable, Sendable {
        public var run: RunRecord
        public var tasks: [TaskRecord]
    }

    public struct Problem: Codable, Sendable, Error, CustomStringConvertible {
        public var error: String
        /// For a refused report, why the queue refused it.
        public var rejection: QueueCore.Rejection?
        /// The HTTP status, set by the client that received it.
        public var status: Int?

        public init(_ error: String, rejection: QueueCore.Rejection? = nil, status: Int? = nil) {
            self.error = error
            self.rejection = rejection
            self.status = status
        }

        /// Whether asking again later may succeed: the coordinator or its store failed.
        public var isTransient: Bool { (status ?? 0) >= 500 }

        public var description: String { error }
    }

    /// The largest log file that travels inside a report.
    public static let smallLogBytes = 64 << 10

    /// The log files of an attempt that travel from an agent to the coordinator.
    public static let logFiles: Set<String> = ["stdout.log", "stderr.log", "op.log", "op.txt", "progress.jsonl", "command.sh", "exit_status", "cache-hit"]

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}
