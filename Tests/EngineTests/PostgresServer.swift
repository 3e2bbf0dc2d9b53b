import Foundation
import Synchronization

/// A PostgreSQL server of the tests' own: a cluster made with initdb in a temporary folder, on a
/// free loopback port, trusting local connections; stopped when the test process exits. Each
/// test takes a fresh database of it.
///
/// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user that
/// Debian's package makes.
final class PostgresServer: Sendable {
    let folder: String
    let port: Int
    private let binaries: String
    private let user: String?
    private let databases = Mutex(0)

    /// The server of this test process, started the first time it is asked for.
    static func shared() async throws -> PostgresServer {
        try await sharedServer.value
    }

    /// Started once, off the cooperative pool: initdb and the server's start take seconds, and
    /// every test that wants the server waits for the same start.
    private static let sharedServer = Task {
        let server = try await offPool { try PostgresServer() }
        started.withLock { $0 = server }
        atexit { try? PostgresServer.started.withLock { $0 }?.stop() }
        return server
    }

    /// The shared server once started, for the exit handler, which cannot wait for the task.
    private static let started = Mutex<PostgresServer?>(nil)

    /// A server for one test alone (one that restarts it); the test stops it.
    static func dedicated() async throws -> PostgresServer {
        try await offPool { try PostgresServer() }
    }

    /// Stops the server (fast: sessions are ended) and starts it again on the same port.
    func restart() async throws {
        try await offPool {
            try self.command("pg_ctl", ["-D", "\(self.folder)/data", "-l", "\(self.folder)/server.log", "-m", "fast", "-w", "-t", "30", "-o", self.options, "restart"])
        }
    }

    /// Stops the server (fast: sessions are ended), keeping its data, until ``start()``.
    func halt() async throws {
        try await offPool {
            try self.command("pg_ctl", ["-D", "\(self.folder)/data", "-m", "fast", "-w", "-t", "30", "stop"])
        }
    }

    /// Starts a server stopped by ``halt()`` again, on the same port.
    func start() async throws {
        try await offPool {
            try self.command("pg_ctl", ["-D", "\(self.folder)/data", "-l", "\(self.folder)/server.log", "-w", "-t", "30", "-o", self.options, "start"])
        }
    }

    private var options: String {
        "-p \(port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(folder) -c fsync=off -c max_connections=200"
    }

    private init() throws {
        binaries = try Self.findBinaries()
        user = getuid() == 0 ? "postgres" : nil
        folder = NSTemporaryDirectory() + "blacktail-postgres-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if let user { try Self.execute("/bin/chown", [user, folder]) }
        port = try Self.freePort()
        try command("initdb", ["-D", "\(folder)/data", "-U", "blacktail", "--auth=trust", "--no-sync", "-E", "UTF8"])
        try command("pg_ctl", [
            "-D", "\(folder)/data", "-l", "\(folder)/server.log", "-w", "-t", "30",
            "-o", options,
            "start",
        ])
    }

    /// A new, empty database, and its URL.
    func database() async throws -> String {
        let name = databases.withLock { count -> String in
            count += 1
            return "test\(getpid())_\(count)"
        }
        try await offPool { try self.command("createdb", ["-h", "127.0.0.1", "-p", "\(self.port)", "-U", "blacktail", name]) }
        return "postgres://blacktail@127.0.0.1:\(port)/\(name)"
    }

    func stop() throws {
        try? command("pg_ctl", ["-D", "\(folder)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func command(_ name: String, _ arguments: [String]) throws {
        if let user {
            try Self.execute("/usr/sbin/runuser", ["-u", user, "--", "\(binaries)/\(name)"] + arguments)
        } else {
            try Self.execute("\(binaries)/\(name)", arguments)
        }
    }

    /// Runs a program to its end, its output in a file. posix_spawn and waitpid rather than
    /// Foundation's Process: the server that pg_ctl starts inherits what Process watches to see
    /// its child end, and Process would wait for as long as the server runs. For the same reason
    /// the program gets no descriptor above 2: at the moment of the spawn, this process may hold
    /// the socket by which Process watches another child (a worker started by another test), and
    /// a server holding it would keep that child from ever being seen to end.
    private static func execute(_ path: String, _ arguments: [String]) throws {
        let log = NSTemporaryDirectory() + "blacktail-postgres-command-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        _ = Self.closeFromThree?(&actions, 3)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresServerError("cannot start \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw PostgresServerError("\((path as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed:\n\(text)")
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare; nil on an older C library, where the program inherits what is open.
    private static let closeFromThree: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Debian keeps the server's programs in /usr/lib/postgresql/VERSION/bin; elsewhere they are
    /// on PATH.
    private static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        if let latest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(latest)/bin/initdb") {
            return "\(root)/\(latest)/bin"
        }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/initdb") {
            return String(folder)
        }
        throw PostgresServerError("no PostgreSQL server programs (initdb, pg_ctl) here; scripts/setup.sh installs Debian's postgresql package")
    }

    /// A port nothing listens on now: bound to port 0, read, released.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw PostgresServerError("cannot open a socket") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw PostgresServerError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct PostgresServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs work that waits (for a program to end) on a thread of its own. A test that waits on a
/// thread of Swift's cooperative pool holds it from every other test of the process: on a 2-core
/// machine the pool has two.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
