import Synchronization

/// Requests that arrive while a write is in flight wait here, and the next write takes them all
/// in one transaction: one commit, and one wait for the disk, for many. Each request still gets
/// its own reply, success or failure.
///
/// The request that finds no write in flight leads: it does the write itself, on its own task, so
/// a request alone costs no hand-off to another task.
final class GroupCommit<Request: Sendable, Reply: Sendable>: Sendable {
    private typealias Waiting = CheckedContinuation<Turn, any Error>

    private enum Turn {
        case reply(Reply)
        case lead
    }

    private struct Pending {
        var entries: [(request: Request, turn: Waiting)] = []
        var flushing = false
    }

    private let pending = Mutex(Pending())

    /// Requests waiting for the write in flight to end.
    var waiting: Int { pending.withLock { $0.entries.count } }

    /// Queues the request and waits for its reply. `write` does one transaction for a batch and
    /// answers each request of it in order; a throw from it fails the whole batch.
    func submit(_ request: Request, write: @Sendable ([Request]) async throws -> [Result<Reply, any Error>]) async throws -> Reply {
        let turn = try await withCheckedThrowingContinuation { (turn: Waiting) in
            let leads = pending.withLock { pending in
                if pending.flushing {
                    pending.entries.append((request, turn))
                    return false
                }
                pending.flushing = true
                return true
            }
            // Resumed before the closure returns, the task goes on without suspending.
            if leads { turn.resume(returning: .lead) }
        }
        switch turn {
        case .reply(let reply):
            return reply
        case .lead:
            return try await lead(request, write: write)
        }
    }

    /// Writes the leader's request with those waiting; whoever arrives meanwhile leads the next
    /// write, so that no request waits behind more than one write besides its own.
    private func lead(_ request: Request, write: @Sendable ([Request]) async throws -> [Result<Reply, any Error>]) async throws -> Reply {
        let waiting = pending.withLock { pending in
            defer { pending.entries = [] }
            return pending.entries
        }
        let own: Result<Reply, any Error>
        do {
            let results = try await write([request] + waiting.map(\.request))
            own = results[0]
            for (entry, result) in zip(waiting, results.dropFirst()) { entry.turn.resume(with: result.map(Turn.reply)) }
        } catch is CancellationError {
            // The leader's task was cancelled, not the others': theirs go in the next write.
            own = .failure(CancellationError())
            pending.withLock { pending in pending.entries.insert(contentsOf: waiting, at: 0) }
        } catch {
            own = .failure(error)
            for entry in waiting { entry.turn.resume(throwing: error) }
        }
        let next = pending.withLock { pending -> Waiting? in
            if pending.entries.isEmpty {
                pending.flushing = false
                return nil
            }
            return pending.entries.removeFirst().turn
        }
        next?.resume(returning: .lead)
        return try own.get()
    }
}
