import Crypto
import Foundation

/// The machines and people allowed to call a coordinator, each with a token of which the store
/// keeps only the sha256.
///
/// An `agent` node pulls and runs tasks; a `client` submits runs and reads them. A node's name is
/// also the worker id its agent claims under, so that a node can complete only the attempts
/// leased to it.
public protocol NodeDirectory: Sendable {
    /// Adds a node; a name already taken is refused.
    func addNode(name: String, role: NodeRecord.Role, tokenSHA256: String, now: Double) async throws
    /// The node a token belongs to (by the token's sha256), or nil for an unknown or revoked one.
    func node(tokenSHA256: String) async throws -> NodeRecord?
    /// Every node, by name, with its agent's last registration and running tasks.
    func nodes() async throws -> [NodeRecord]
    /// Sets a node's state; false when there is no such node.
    @discardableResult
    func setNodeState(name: String, state: NodeRecord.State) async throws -> Bool
    /// Removes a node, revoking its token; false when there is no such node.
    @discardableResult
    func removeNode(name: String) async throws -> Bool
}

public struct NodeRecord: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case agent
        case client
    }

    public enum State: String, Sendable, Codable, CaseIterable {
        case active
        /// Takes no new tasks; finishes what it holds.
        case draining
    }

    public var name: String
    public var role: Role
    public var state: State
    public var createdAt: Double
    /// From the agent's latest registration and heartbeat, when it has one.
    public var gpus: [String]
    public var heartbeatAt: Double?
    public var runningTasks: Int

    public init(name: String, role: Role, state: State, createdAt: Double, gpus: [String] = [], heartbeatAt: Double? = nil, runningTasks: Int = 0) {
        self.name = name
        self.role = role
        self.state = state
        self.createdAt = createdAt
        self.gpus = gpus
        self.heartbeatAt = heartbeatAt
        self.runningTasks = runningTasks
    }
}

/// Node tokens: 32 random bytes, URL-safe base64 after a `btn_` prefix.
public enum NodeToken {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "btn_" + base64
    }

    /// What the store keeps of a token.
    public static func hash(_ token: String) -> String {
        Digest.sha256(token)
    }

    /// Node names: letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64.
    public static func validate(name: String) throws {
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        guard !name.isEmpty, name.count <= 64, allowed, name.first!.isLetter || name.first!.isNumber else {
            throw EngineError("'\(name)' is not a node name: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 64)")
        }
    }
}
