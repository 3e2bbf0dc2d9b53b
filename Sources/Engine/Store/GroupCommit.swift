import Synchronization

/// Requests that arrive while a write is in flight wait here, and the next write takes them all
/// in one transaction: one commit, and one wait for the disk, for many. Each request still gets
/// its own reply, success or failure.
final class GroupCommit<Request: Sendable, Reply: Sendable>: Sendable {
    private struct Pending {
        var entries: [(request: Request, reply: CheckedContinuation<Reply, any Error>)] = []
        var flushing = false
    }

    private let pending = Mutex(Pending())

    /// Queues the request and waits for its reply. `write` does one transaction for a batch and
    /// answers each request of it in order; a throw from it fails the whole batch.
    func submit(_ request: Request, write: @escaping @Sendable ([Request]) async throws -> [Result<Reply, any Error>]) async throws -> Reply {
        try await withCheckedThrowingContinuation { reply in
            let startsFlush = pending.withLock { pending in
                pending.entries.append((request, reply))
                guard !pending.flushing else { return false }
                pending.flushing = true
                return true
            }
            if startsFlush { Task { await self.flush(write) } }
        }
    }

    private func flush(_ write: @Sendable ([Request]) async throws -> [Result<Reply, any Error>]) async {
        while true {
            let batch = pending.withLock { pending in
                let batch = pending.entries
                pending.entries = []
                if batch.isEmpty { pending.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let results = try await write(batch.map(\.request))
                for (entry, result) in zip(batch, results) { entry.reply.resume(with: result) }
            } catch {
                for entry in batch { entry.reply.resume(throwing: error) }
            }
        }
    }
}
