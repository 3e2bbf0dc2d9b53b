@testable import Engine
import Foundation
import Synchronization
import Testing

/// Completions that arrive together are written together, and each gets its own reply.
@Suite struct GroupCommitTests {
    /// A write that holds its batch until let go, and records every batch it was given.
    final class Gate: Sendable {
        let batches = Mutex<[[String]]>([])
        let open = Mutex(false)

        func write(_ batch: [String]) async throws -> [Result<String, any Error>] {
            batches.withLock { $0.append(batch) }
            if batch.first == "first" {
                while !open.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            }
            if batch.first == "leader" { try await Task.sleep(for: .seconds(60)) }
            return batch.map { .success("wrote \($0)") }
        }
    }

    static func until(_ condition: () -> Bool) async throws {
        while !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func requestsThatWaitAreWrittenTogetherAndEachGetsItsReply() async throws {
        let commit = GroupCommit<String, String>()
        let gate = Gate()
        let first = Task { try await commit.submit("first", write: gate.write) }
        try await Self.until { gate.batches.withLock { $0.count } == 1 }
        let others = (0..<5).map { index in Task { try await commit.submit("r\(index)", write: gate.write) } }
        try await Self.until { commit.waiting == 5 }
        gate.open.withLock { $0 = true }
        #expect(try await first.value == "wrote first")
        for (index, other) in others.enumerated() { #expect(try await other.value == "wrote r\(index)") }
        // The five that arrived during the first write went in one second write.
        #expect(gate.batches.withLock { $0.map(\.count) } == [1, 5])
    }

    @Test func aCancelledLeaderLeavesTheOthersToTheNextWrite() async throws {
        let commit = GroupCommit<String, String>()
        let gate = Gate()
        let first = Task { try await commit.submit("first", write: gate.write) }
        try await Self.until { gate.batches.withLock { $0.count } == 1 }
        // "leader" queues first, so it leads the next write, which takes "a" and "b" along.
        let leader = Task { try await commit.submit("leader", write: gate.write) }
        try await Self.until { commit.waiting == 1 }
        let a = Task { try await commit.submit("a", write: gate.write) }
        let b = Task { try await commit.submit("b", write: gate.write) }
        try await Self.until { commit.waiting == 3 }
        gate.open.withLock { $0 = true }
        #expect(try await first.value == "wrote first")
        try await Self.until { gate.batches.withLock { $0.count } == 2 }
        leader.cancel()
        await #expect(throws: CancellationError.self) { try await leader.value }
        #expect(try await a.value == "wrote a")
        #expect(try await b.value == "wrote b")
        #expect(gate.batches.withLock { $0 }.map { Set($0) } == [["first"], ["leader", "a", "b"], ["a", "b"]])
    }
}
