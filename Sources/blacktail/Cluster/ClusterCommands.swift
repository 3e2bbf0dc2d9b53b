import ArgumentParser
import BlacktailOps
import Cluster
import Engine
import Foundation

/// Which store a command opens: `--store` (a PostgreSQL URL or a SQLite file), else the home's.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or a SQLite file (default: the home's).", valueName: "url"))
    var store: String?

    @OptionGroup var home: HomeOptions

    /// The home (for files), the store, and how to close it.
    func open() async throws -> (Workspace, any RunStore, close: @Sendable () async -> Void) {
        let workspace = home.workspace
        do {
            try workspace.create()
            guard let store else {
                return (workspace, try SQLiteStore(path: workspace.storePath), {})
            }
            if let url = postgresURL {
                let postgres = try await PostgresStore(url: url)
                return (workspace, postgres, { await postgres.close() })
            }
            let path = store.hasPrefix("sqlite://") ? String(store.dropFirst("sqlite://".count)) : store
            return (workspace, try SQLiteStore(path: path), {})
        } catch let error as EngineError {
            throw CLIError(error.message)
        }
    }

    var description: String { store.map { PostgresURL.redacted($0) } ?? home.workspace.storePath }

    /// The store's URL when it is PostgreSQL.
    var postgresURL: String? {
        guard let store, store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") else { return nil }
        return store
    }
}

enum PostgresURL {
    /// The URL without its password, for printing.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}

/// How a command reaches a coordinator.
struct CoordinatorOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The coordinator's URL, such as http://10.0.0.5:8470.", valueName: "url"))
    var coordinator: String?

    @Option(help: ArgumentHelp("A file holding a node token ('blacktail nodes add' issues them).", valueName: "file"))
    var token: String?

    /// A client of the coordinator, or nil when none was named.
    func client() throws -> CoordinatorClient? {
        guard let coordinator else { return nil }
        guard let token else { throw ValidationError("--coordinator needs --token FILE") }
        do {
            return try CoordinatorClient(url: coordinator, token: try CoordinatorClient.token(file: token))
        } catch let error as EngineError {
            throw CLIError(error.message)
        }
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a store over HTTP to agents and clients: the coordinator of a cluster.",
        discussion: """
            Agents ('blacktail agent') pull tasks that fit them; clients submit runs and read them \
            ('submit --coordinator', 'status --coordinator'). Every call carries a node token \
            ('blacktail nodes add'). Files are kept by digest in the home's artifact store. The \
            coordinator also submits the runs of due schedules. Serve plain HTTP on a private \
            network, or put a TLS proxy in front (docs/cluster.md).
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("Address and port to listen on (port 0 picks a free one).", valueName: "host:port"))
    var listen = "127.0.0.1:8470"

    @Option(help: ArgumentHelp("The largest artifact an upload may carry, such as 16GiB.", valueName: "size"))
    var maxArtifactSize = "16GiB"

    @Option(help: ArgumentHelp("Seconds between schedule checks; 0 turns the scheduler off.", valueName: "seconds"))
    var scheduleInterval: Double = 15

    @Option(help: ArgumentHelp("How often a waiting claim asks the store again when no announcement woke it.", valueName: "seconds"))
    var pollInterval: Double = 0.5

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("--listen \(listen): write HOST:PORT, such as 127.0.0.1:8470")
        }
        guard let artifactBytes = MemoryQuantity.parse(maxArtifactSize) else {
            throw ValidationError("--max-artifact-size \(maxArtifactSize): write a size such as 16GiB")
        }
        let host = String(listen[..<colon])
        let (workspace, runStore, close) = try await store.open()
        guard pollInterval > 0 else { throw ValidationError("--poll-interval must be more than 0") }
        var limits = Coordinator.Limits()
        limits.artifactBytes = artifactBytes
        limits.pollSeconds = pollInterval
        // Coordinators of one PostgreSQL store wake each other's waiting claims.
        let notifications = try store.postgresURL.map { try PostgresNotifications(url: $0) }
        let coordinator = Coordinator(store: runStore, workspace: workspace, limits: limits, notifications: notifications)
        let scheduling = scheduleInterval > 0 ? Task { [scheduleInterval] in
            let scheduler = PipelineScheduling.scheduler(store: runStore, registry: runStore as? SQLiteStore, recordingFilesIn: workspace.artifacts)
            while !Task.isCancelled {
                await PipelineScheduling.check(scheduler)
                try? await Task.sleep(for: .seconds(scheduleInterval))
            }
        } : nil
        let description = store.description
        do {
            try await coordinator.serve(host: host, port: port) { bound in
                print("coordinator listening on http://\(host):\(bound) (store \(description), files in \(workspace.root))")
                fflush(nil)
            }
        } catch {
            scheduling?.cancel()
            await close()
            throw CLIError("the coordinator stopped: \(error)")
        }
        scheduling?.cancel()
        await close()
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Pull tasks from a coordinator and run them here, until stopped (SIGTERM lets running tasks finish).",
        discussion: """
            The agent runs tasks exactly as 'blacktail worker' does. It fetches their inputs by \
            digest (checked, and kept in a local cache of --cache-size), sends their outputs and \
            logs back, and gives a GPU task exactly its GPUs in CUDA_VISIBLE_DEVICES.
            """
    )

    @Option(help: ArgumentHelp("The coordinator's URL, such as http://10.0.0.5:8470.", valueName: "url"))
    var coordinator: String

    @Option(help: ArgumentHelp("A file holding this node's token ('blacktail nodes add NAME --token-file FILE').", valueName: "file"))
    var token: String

    @OptionGroup var worker: WorkerOptions

    @Option(help: ArgumentHelp("Where tasks run and fetched files are cached.", valueName: "folder"))
    var workDir = ".blacktail-agent"

    @Option(help: ArgumentHelp("The most the file cache keeps, such as 20GiB.", valueName: "size"))
    var cacheSize = "20GiB"

    func run() async throws {
        guard let cacheBytes = MemoryQuantity.parse(cacheSize) else { throw ValidationError("--cache-size \(cacheSize): write a size such as 20GiB") }
        let configuration = try worker.configuration()
        do {
            let client = try CoordinatorClient(url: coordinator, token: try CoordinatorClient.token(file: token))
            var agent = Agent(client: client, workspace: Workspace(home: workDir), configuration: configuration, cacheBytes: cacheBytes)
            agent.hdf5Verifier = .thisProgram()
            let (local, stop) = try await agent.worker { line in
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
            print("agent \(local.id): \(describe(configuration)), \(configuration.concurrency) at once, coordinator \(coordinator), work in \(agent.workspace.root)")
            fflush(nil)
            let interrupt = InterruptHandler {
                print("agent \(local.id): stopping; the tasks it runs finish first")
                fflush(nil)
                stop()
            }
            defer { interrupt.cancel() }
            try await local.run()
            print("agent \(local.id): stopped")
        } catch let error as EngineError {
            throw CLIError(error.message)
        } catch let problem as Wire.Problem {
            throw CLIError(problem.error)
        }
    }
}

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "Issue and revoke the tokens of agents and clients, and see the cluster's nodes.",
        subcommands: [Add.self, List.self, Drain.self, Resume.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a node and print its token (shown once; the store keeps only its sha256)."
        )

        @Argument(help: "The node's name (an agent claims tasks under it).")
        var name: String

        @Flag(help: "A client (submits and reads runs) instead of an agent.")
        var client = false

        @Option(help: ArgumentHelp("Write the token to this file (owner-only) instead of printing it.", valueName: "file"))
        var tokenFile: String?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let (_, nodes, close) = try await store.open()
            let token = NodeToken.generate()
            do {
                try await nodes.addNode(name: name, role: client ? .client : .agent, tokenSHA256: NodeToken.hash(token), now: now())
            } catch let error as EngineError {
                await close()
                throw CLIError(error.message)
            }
            await close()
            guard let tokenFile else {
                print(token)
                return
            }
            let descriptor = Foundation.open(tokenFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard descriptor >= 0 else { throw CLIError("cannot write \(tokenFile): \(String(cString: strerror(errno)))") }
            let bytes = Array((token + "\n").utf8)
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            Foundation.close(descriptor)
            guard written == bytes.count else { throw CLIError("cannot write \(tokenFile)") }
            print("node \(name) (\(client ? "client" : "agent")): token written to \(tokenFile)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the nodes: state, GPUs, last heartbeat, running tasks.")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let (_, nodes, close) = try await store.open()
            let list = try await nodes.nodes()
            await close()
            if list.isEmpty { print("no nodes; 'blacktail nodes add NAME' adds one") }
            let current = now()
            for node in list {
                let seen = node.heartbeatAt.map { "seen \(Duration.seconds(max(0, current - $0)).short) ago" } ?? "never seen"
                let gpus = node.gpus.isEmpty ? "no GPUs" : "GPUs \(node.gpus.joined(separator: ","))"
                print("\(node.name)  \(node.role.rawValue)  \(node.state.rawValue)  \(gpus)  \(seen)  \(node.runningTasks) running")
            }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop giving a node new tasks; what it runs finishes.")
        @Argument(help: "The node's name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await NodesCommand.setState(name, .draining, store: store)
            print("node \(name): draining; it takes no new tasks")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a drained node tasks again.")
        @Argument(help: "The node's name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await NodesCommand.setState(name, .active, store: store)
            print("node \(name): active")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a node and revoke its token; its calls get 401 from now on.")
        @Argument(help: "The node's name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let (_, nodes, close) = try await store.open()
            let removed = try await nodes.removeNode(name: name)
            await close()
            guard removed else { throw CLIError("no node '\(name)'; 'blacktail nodes list' lists them") }
            print("node \(name): removed; its token is revoked")
        }
    }

    static func setState(_ name: String, _ state: NodeRecord.State, store: StoreOptions) async throws {
        let (_, nodes, close) = try await store.open()
        let changed = try await nodes.setNodeState(name: name, state: state)
        await close()
        guard changed else { throw CLIError("no node '\(name)'; 'blacktail nodes list' lists them") }
    }
}

/// A run submitted through a coordinator: the project files it reads travel as artifacts.
enum RemoteSubmission {
    static func submit(_ submission: Submission, client: CoordinatorClient, workspace: Workspace) async throws -> Wire.Submitted {
        do {
            try workspace.create()
            let recorded = try submission.recordingProjectFiles(in: workspace.artifacts)
            for digest in recorded.storedDigests.sorted() where !(try await client.hasArtifact(digest)) {
                guard workspace.artifacts.contains(digest) else { throw CLIError("artifact \(digest.prefix(12)) is not in \(workspace.root) to send") }
                try await client.upload(file: workspace.artifacts.path(of: digest), to: "/v1/artifacts/\(digest)")
            }
            return try await client.call(.POST, "/v1/runs", body: recorded, as: Wire.Submitted.self)
        } catch let error as EngineError {
            throw CLIError(error.message)
        } catch let problem as Wire.Problem {
            throw CLIError(problem.error)
        }
    }

    static func detail(_ run: String, client: CoordinatorClient) async throws -> Wire.RunDetail {
        // A refusal reaches the user as `error: ...` through Blacktail.main, which reports it.
        try await client.call(.GET, "/v1/runs/\(CoordinatorClient.segment(run))", as: Wire.RunDetail.self)
    }
}
