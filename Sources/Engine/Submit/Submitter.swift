import Foundation
public import PipelineLanguage

/// Turns a compiled plan into a ``Submission``: a task spec per node, and the run's record (file
/// digest, params, the resolved plan, version, host and platform).
public enum Submitter {
    /// The version recorded with every run.
    public static let blacktailVersion = "0.1.0"

    public struct Options: Sendable {
        public var priority = 0
        public var idempotencyKey: String?
        public var failFast = false
        public var noCache = false

        public init(priority: Int = 0, idempotencyKey: String? = nil, failFast: Bool = false, noCache: Bool = false) {
            self.priority = priority
            self.idempotencyKey = idempotencyKey
            self.failFast = failFast
            self.noCache = noCache
        }
    }

    public static func submission(
        plan: Plan,
        pipelinePath: String,
        projectDirectory: String,
        signatures: OpSignatureSet,
        options: Options = Options(),
        now: Date = Date()
    ) -> Submission {
        Submission(
            runID: newRunID(now),
            pipeline: plan.pipelineName,
            pipelinePath: pipelinePath,
            projectDirectory: projectDirectory,
            fileDigest: plan.fileDigest,
            params: JSONValue.object(Dictionary(uniqueKeysWithValues: plan.params.map { ($0.name, $0.value.json) })).canonicalText,
            plan: plan.json.canonicalText,
            priority: options.priority,
            idempotencyKey: options.idempotencyKey,
            failFast: options.failFast,
            noCache: options.noCache,
            blacktailVersion: blacktailVersion,
            host: ProcessInfo.processInfo.hostName,
            platform: platform,
            tasks: plan.nodes.map { TaskSpec(node: $0, signatures: signatures) }
        )
    }

    /// `20261127-142501-3fa9c2`: sortable by submission time, unique by its random tail.
    public static func newRunID(_ now: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: now)
        let stamp = String(format: "%04d%02d%02d-%02d%02d%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
        let tail = (0..<6).map { _ in "0123456789abcdef".randomElement()! }
        return "\(stamp)-\(String(tail))"
    }

    /// The operating system and machine, as `uname` tells them.
    public static var platform: String {
        var name = utsname()
        uname(&name)
        func text(_ field: Any) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(name.sysname)) \(text(name.release)) \(text(name.machine))"
    }
}
