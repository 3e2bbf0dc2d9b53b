import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Work announcements between the processes that share a PostgreSQL store, over LISTEN/NOTIFY:
/// a coordinator announces a change that may have made tasks ready (a submission, a report, a
/// retry), and every coordinator listening wakes its waiting claims at once instead of at its
/// next poll. Polling stays the fallback: a notification lost while a connection was down costs
/// one poll interval, and a reconnection wakes the waiters once in case one was lost.
public final class PostgresNotifications: Sendable {
    public static let channel = "blacktail_work"

    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)
    private let nextID = Atomic<Int>(0)

    public init(url: String, logger: Logger = Logger(label: "blacktail.notifications", factory: { _ in SwiftLogNoOpLogHandler() })) throws {
        let client = try PostgresStore.configuration(url)
        configuration = PostgresConnection.Configuration(
            host: client.host ?? "127.0.0.1", port: client.port ?? 5432, username: client.username,
            password: client.password, database: client.database, tls: .disable
        )
        self.logger = logger
    }

    /// Calls `wake` for every announcement (this process's own included) until the surrounding
    /// task is cancelled; reconnects after a failure.
    public func watch(_ wake: @escaping @Sendable () -> Void) async {
        while !Task.isCancelled {
            do {
                let id = nextID.add(1, ordering: .relaxed).newValue
                let opened = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                connection.withLock { $0 = opened }
                wake()
                try await opened.listen(on: Self.channel) { notifications in
                    for try await _ in notifications { wake() }
                }
            } catch {
                logger.debug("notifications: \(error)")
            }
            let closing = connection.withLock { current in
                defer { current = nil }
                return current
            }
            try? await closing?.close()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Tells every listener that work may be ready; nothing when not connected (they poll).
    public func announce() async {
        guard let current = connection.withLock({ $0 }) else { return }
        _ = try? await current.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
    }
}
