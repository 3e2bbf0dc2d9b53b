import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The coordinator: the HTTP API of a store, for agents that pull tasks and clients that submit
/// runs. It keeps no state of its own beyond what waits in a long poll, so several can serve one
/// PostgreSQL store; its files live in the artifact store of its home, by digest only.
///
/// Every call but `GET /v1/health` carries a node's token (`Authorization: Bearer ...`); the
/// store keeps only the token's sha256. An agent claims and completes under its node's name, so
/// it can finish only the attempts leased to it, and it can read only the files of tasks it
/// holds. The routes are ``routes``; docs/openapi.yaml describes them.
public final class Coordinator: Sendable {
    public struct Limits: Sendable {
        /// Any JSON body but a submission.
        public var jsonBytes = 1 << 20
        /// A submission (its task specs): 64 MiB holds some 50,000 tasks.
        public var submissionBytes = 64 << 20
        /// One artifact.
        public var artifactBytes: Int64 = 16 << 30
        /// One log file of one attempt.
        public var logBytes = 256 << 20
        /// The longest long poll.
        public var longestWait = 30.0
        /// How often a waiting claim asks the store again when nothing woke it.
        public var pollSeconds = 0.5

        public init() {}
    }

    public let store: any RunStore
    public let workspace: Workspace
    public let limits: Limits
    /// Announcements to and from the other coordinators of a PostgreSQL store.
    let notifications: PostgresNotifications?
    let wakeups = Wakeups()
    let logger: Logger

    public init(
        store: any RunStore, workspace: Workspace, limits: Limits = Limits(), notifications: PostgresNotifications? = nil,
        logger: Logger = Logger(label: "blacktail.coordinator")
    ) {
        self.store = store
        self.workspace = workspace
        self.limits = limits
        self.notifications = notifications
        self.logger = logger
    }

    /// Serves until the surrounding task is cancelled; `onListening` gets the bound port.
    public func serve(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try workspace.create()
        let listening = notifications.map { notifications in
            Task { [wakeups] in await notifications.watch { wakeups.signal() } }
        }
        defer { listening?.cancel() }
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "blacktail"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    public func router() -> Router<CoordinatorContext> {
        let router = Router(context: CoordinatorContext.self)
        for route in routes {
            let handler = authorized(route)
            router.on(RouterPath(route.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")), method: route.method) { request, context in
                try await handler(request, context)
            }
        }
        return router
    }

    /// A route of the API: who may call it, and what it does.
    public struct Route: Sendable {
        public var method: HTTPRequest.Method
        /// In OpenAPI's form: `/v1/runs/{id}`.
        public var path: String
        /// The roles whose tokens may call it; empty: anyone, without a token.
        public var roles: Set<NodeRecord.Role>
        var handler: @Sendable (Request, CoordinatorContext, NodeRecord?) async throws -> Response
    }

    /// Every route the coordinator serves.
    public var routes: [Route] {
        [
            Route(method: .get, path: "/v1/health", roles: []) { _, _, _ in try self.json(["status": "ok"]) },
            Route(method: .get, path: "/v1/whoami", roles: [.agent, .client]) { _, _, node in try self.json(Self.identity(node!)) },
            Route(method: .post, path: "/v1/agent/register", roles: [.agent]) { request, context, node in try await self.register(request, context, node!) },
            Route(method: .post, path: "/v1/agent/claim", roles: [.agent]) { request, context, node in try await self.claim(request, context, node!) },
            Route(method: .post, path: "/v1/agent/heartbeat", roles: [.agent]) { request, context, node in try await self.heartbeat(request, context, node!) },
            Route(method: .post, path: "/v1/agent/complete", roles: [.agent]) { request, context, node in try await self.complete(request, context, node!) },
            Route(method: .post, path: "/v1/agent/progress", roles: [.agent]) { request, context, node in try await self.progress(request, context, node!) },
            Route(method: .get, path: "/v1/agent/cache/{key}", roles: [.agent]) { request, context, _ in try await self.cacheEntry(request, context) },
            Route(method: .put, path: "/v1/agent/logs/{task}/{attempt}/{name}", roles: [.agent]) { request, context, node in try await self.uploadLog(request, context, node!) },
            Route(method: .head, path: "/v1/artifacts/{digest}", roles: [.agent, .client]) { _, context, _ in try self.artifactExists(context) },
            Route(method: .get, path: "/v1/artifacts/{digest}", roles: [.agent, .client]) { request, context, node in try await self.download(request, context, node!) },
            Route(method: .put, path: "/v1/artifacts/{digest}", roles: [.agent, .client]) { request, context, node in try await self.upload(request, context, node!) },
            Route(method: .post, path: "/v1/runs", roles: [.client]) { request, context, _ in try await self.submit(request, context) },
            Route(method: .get, path: "/v1/runs", roles: [.client]) { request, _, _ in try await self.runs(request) },
            Route(method: .get, path: "/v1/runs/{id}", roles: [.client]) { _, context, _ in try await self.runDetail(context) },
            Route(method: .post, path: "/v1/runs/{id}/cancel", roles: [.client]) { _, context, _ in try await self.cancel(context) },
            Route(method: .post, path: "/v1/runs/{id}/retry", roles: [.client]) { _, context, _ in try await self.retry(context) },
            Route(method: .get, path: "/v1/runs/{id}/logs/{node}/{name}", roles: [.client]) { request, context, _ in try await self.log(request, context) },
            Route(method: .get, path: "/v1/nodes", roles: [.client]) { _, _, _ in try await self.json(self.store.nodes()) },
        ]
    }

    /// Checks the token before the handler runs.
    private func authorized(_ route: Route) -> @Sendable (Request, CoordinatorContext) async throws -> Response {
        { request, context in
            do {
                guard !route.roles.isEmpty else { return try await route.handler(request, context, nil) }
                guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7 else {
                    throw Failure(.unauthorized, "this call needs a node token: Authorization: Bearer TOKEN ('blacktail nodes add' issues one)")
                }
                guard let node = try await self.store.node(tokenSHA256: NodeToken.hash(String(header.dropFirst(7)))) else {
                    throw Failure(.unauthorized, "unknown or revoked token")
                }
                guard route.roles.contains(node.role) else {
                    throw Failure(.forbidden, "node \(node.name) is a\(node.role == .agent ? "n agent" : " client"); this call is for \(route.roles.contains(.agent) ? "agents" : "clients")")
                }
                return try await route.handler(request, context, node)
            } catch let failure as Failure {
                return try failure.response()
            } catch let error as NIOTooManyBytesError {
                _ = error
                return try Failure(.contentTooLarge, "the request body is larger than this call accepts").response()
            } catch let error as DecodingError {
                return try Failure(.badRequest, "the request body is not what this call takes: \(Self.describe(error))").response()
            } catch let error as EngineError {
                return try Failure(.internalServerError, error.message).response()
            }
        }
    }

    // MARK: Agents

    private func register(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let registration = try await body(Wire.Registration.self, request, limit: limits.jsonBytes)
        let now = Date().timeIntervalSince1970
        try await store.registerWorker(
            WorkerRecord(
                id: node.name, host: registration.host, pid: registration.pid, cpu: registration.cpu,
                memoryBytes: registration.memoryBytes, gpus: registration.gpus, labels: registration.labels,
                startedAt: now, heartbeatAt: now
            ),
            now: now
        )
        logger.info("node \(node.name) registered: \(registration.cpu) CPUs, GPUs \(registration.gpus), labels \(registration.labels)")
        return try json(Self.identity(node))
    }

    private func claim(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let claim = try await body(Wire.Claim.self, request, limit: limits.jsonBytes)
        let deadline = Date().timeIntervalSince1970 + min(max(claim.waitSeconds, 0), limits.longestWait)
        while true {
            // A wake between the claim and the wait is not missed: the wait returns at once.
            let generation = wakeups.generation
            // A draining node takes nothing new.
            let tasks = node.state == .active ? try await store.claim(claimRequest(claim, node: node), now: Date().timeIntervalSince1970) : []
            let left = deadline - Date().timeIntervalSince1970
            if !tasks.isEmpty || left <= 0 { return try json(Wire.Claimed(tasks: tasks)) }
            await wakeups.wait(since: generation, seconds: min(left, limits.pollSeconds))
        }
    }

    private func claimRequest(_ claim: Wire.Claim, node: NodeRecord) -> ClaimRequest {
        ClaimRequest(worker: node.name, free: claim.free, limit: min(max(claim.limit, 1), 256), leaseSeconds: min(max(claim.leaseSeconds, 1), 3_600))
    }

    private func heartbeat(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let beat = try await body(Wire.Heartbeat.self, request, limit: limits.jsonBytes)
        let reply = try await store.heartbeat(
            taskID: beat.taskID, attempt: beat.attempt, worker: node.name,
            leaseSeconds: min(max(beat.leaseSeconds, 1), 3_600), now: Date().timeIntervalSince1970
        )
        return switch reply {
        case .lost: try json(Wire.HeartbeatResult(held: false, cancelRequested: false))
        case .extended(let cancelRequested): try json(Wire.HeartbeatResult(held: true, cancelRequested: cancelRequested))
        }
    }

    private func complete(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let report = try await body(Wire.Report.self, request, limit: limits.jsonBytes * 16)
        var completion = report.completion
        // The node's own name, whatever the body says: a node completes only its own attempts.
        completion.worker = node.name
        if case .succeeded(cacheHit: false) = completion.outcome {
            for output in completion.outputs where !workspace.artifacts.contains(output.digest) {
                throw Failure(.unprocessableContent, "output '\(output.name)' (sha256 \(output.digest)) was not uploaded; PUT /v1/artifacts/\(output.digest) first")
            }
        }
        let next = report.claim.flatMap { node.state == .active ? claimRequest($0, node: node) : nil }
        var logFolder: String?
        if let logs = report.logs, !logs.isEmpty {
            guard logs.allSatisfy({ Wire.logFiles.contains($0.key) && $0.value.utf8.count <= Wire.smallLogBytes }) else {
                throw Failure(.badRequest, "a report carries only the log files \(Wire.logFiles.sorted().joined(separator: ", ")), each at most \(Wire.smallLogBytes) bytes")
            }
            if let task = try await store.heldTask(id: completion.taskID, runID: report.runID) {
                logFolder = workspace.attemptFolder(run: task.snapshot.runID, node: task.spec.nodeID, attempt: completion.attempt)
            }
        }
        do {
            let tasks = try await store.complete(completion, thenClaim: next, now: Date().timeIntervalSince1970)
            if let logFolder, let logs = report.logs {
                // Only an accepted report's logs are kept: they are the attempt's that counts.
                try FileManager.default.createDirectory(atPath: logFolder, withIntermediateDirectories: true)
                for (name, text) in logs { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(logFolder)/\(name)"), options: .atomic) }
            }
            workMayBeReady()
            return try json(Wire.Claimed(tasks: tasks))
        } catch let rejection as QueueCore.Rejection {
            throw Failure(.conflict, "the attempt's result is refused: \(rejection)", rejection: rejection)
        }
    }

    private func progress(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let progress = try await body(Wire.Progress.self, request, limit: limits.jsonBytes)
        _ = try await leasedTask(progress.taskID, attempt: progress.attempt, to: node, runID: progress.runID)
        try await store.setProgress(taskID: progress.taskID, attempt: progress.attempt, progress: progress.progress)
        return Response(status: .noContent)
    }

    private func cacheEntry(_ request: Request, _ context: CoordinatorContext) async throws -> Response {
        let key = try context.parameters.require("key")
        guard Digest.isValid(key), let entry = try await store.cacheEntry(key: key),
              entry.outputs.allSatisfy({ workspace.artifacts.contains($0.digest) }) else {
            throw Failure(.notFound, "no cached outputs for \(key.prefix(12))")
        }
        return try json(entry)
    }

    private func uploadLog(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let name = try context.parameters.require("name")
        guard Wire.logFiles.contains(name) else { throw Failure(.badRequest, "'\(name)' is not a log file of an attempt") }
        guard let taskID = Int64(try context.parameters.require("task")), let attempt = Int(try context.parameters.require("attempt")) else {
            throw Failure(.badRequest, "task and attempt are numbers")
        }
        let task = try await leasedTask(taskID, attempt: attempt, to: node, runID: request.uri.queryParameters.get("run"))
        let folder = workspace.attemptFolder(run: task.snapshot.runID, node: task.spec.nodeID, attempt: attempt)
        let temporary = try await receive(request, limit: Int64(limits.logBytes))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard rename(temporary, "\(folder)/\(name)") == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw EngineError("cannot store the log \(name): \(String(cString: strerror(errno)))")
        }
        return Response(status: .noContent)
    }

    // MARK: Artifacts

    private func digest(_ context: CoordinatorContext) throws -> String {
        let digest = try context.parameters.require("digest")
        guard Digest.isValid(digest) else { throw Failure(.badRequest, "'\(digest.prefix(80))' is not a sha256 digest (64 lowercase hex digits)") }
        return digest
    }

    private func artifactExists(_ context: CoordinatorContext) throws -> Response {
        Response(status: workspace.artifacts.contains(try digest(context)) ? .ok : .notFound)
    }

    /// A file by digest: for a client, any; for an agent, only an input of a task it holds.
    private func download(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let digest = try digest(context)
        if node.role == .agent {
            let (taskID, attempt, runID) = try attemptParameters(request)
            let task = try await leasedTask(taskID, attempt: attempt, to: node, runID: runID)
            guard task.inputDigests.contains(digest) else {
                throw Failure(.forbidden, "\(digest.prefix(12)) is not an input of task \(taskID)")
            }
        }
        guard workspace.artifacts.contains(digest) else { throw Failure(.notFound, "no artifact \(digest.prefix(12))") }
        let body = try await FileIO().loadFile(path: workspace.artifacts.path(of: digest), context: context)
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
    }

    /// Stores a file under its digest, after checking that its bytes have it. An agent uploads
    /// the outputs of a task it holds; a client, the project files of a run it is submitting.
    private func upload(_ request: Request, _ context: CoordinatorContext, _ node: NodeRecord) async throws -> Response {
        let digest = try digest(context)
        if node.role == .agent {
            let (taskID, attempt, runID) = try attemptParameters(request)
            _ = try await leasedTask(taskID, attempt: attempt, to: node, runID: runID)
        }
        if workspace.artifacts.contains(digest) { return Response(status: .noContent) }
        let temporary = try await receive(request, limit: limits.artifactBytes)
        let actual: String
        do {
            actual = try Digest.sha256(ofFile: temporary).digest
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        guard actual == digest else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw Failure(.unprocessableContent, "the bytes sent have sha256 \(actual), not \(digest); nothing was stored")
        }
        try workspace.artifacts.ingest(moving: temporary)
        return Response(status: .created)
    }

    /// Writes a request's body to a new file in staging, refusing more than `limit` bytes.
    private func receive(_ request: Request, limit: Int64) async throws -> String {
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > limit {
            throw Failure(.contentTooLarge, "\(length) bytes is more than the \(limit) this call accepts")
        }
        let staging = workspace.artifacts.staging
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let path = "\(staging)/upload-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw EngineError("cannot write to \(staging)")
        }
        var received: Int64 = 0
        do {
            defer { try? handle.close() }
            for try await buffer in request.body {
                received += Int64(buffer.readableBytes)
                if received > limit { throw Failure(.contentTooLarge, "the body is larger than the \(limit) bytes this call accepts") }
                try handle.write(contentsOf: buffer.readableBytesView)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        return path
    }

    private func attemptParameters(_ request: Request) throws -> (Int64, Int, String?) {
        let query = request.uri.queryParameters
        guard let task = query.get("task").flatMap({ Int64(String($0)) }), let attempt = query.get("attempt").flatMap({ Int(String($0)) }) else {
            throw Failure(.badRequest, "an agent names the task it holds: ?run=RUN&task=ID&attempt=N")
        }
        return (task, attempt, query.get("run").map { String($0) })
    }

    /// The task, when `node` holds its lease for this attempt now.
    private func leasedTask(_ taskID: Int64, attempt: Int, to node: NodeRecord, runID: String?) async throws -> ClaimedTask {
        guard let task = try await store.heldTask(id: taskID, runID: runID),
              task.snapshot.state == .running, task.snapshot.attempt == attempt, task.snapshot.leaseOwner == node.name else {
            throw Failure(.forbidden, "attempt \(attempt) of task \(taskID) is not leased to node \(node.name)")
        }
        return task
    }

    // MARK: Clients

    private func submit(_ request: Request, _ context: CoordinatorContext) async throws -> Response {
        let submission = try await body(Submission.self, request, limit: limits.submissionBytes)
        if let file = submission.projectFiles.first {
            throw Failure(.badRequest, "the run reads the project file \(file) from the submitter's folder; submit its bytes (blacktail submit --coordinator sends them)")
        }
        if let missing = submission.storedDigests.sorted().first(where: { !workspace.artifacts.contains($0) }) {
            throw Failure(.badRequest, "the run names artifact \(missing), which is not here; PUT /v1/artifacts/\(missing) first")
        }
        let (runID, created) = try await store.submit(submission, now: Date().timeIntervalSince1970)
        workMayBeReady()
        return try json(Wire.Submitted(runID: runID, created: created), status: created ? .created : .ok)
    }

    private func runs(_ request: Request) async throws -> Response {
        let limit = request.uri.queryParameters.get("limit").flatMap { Int(String($0)) } ?? 20
        return try json(try await store.runs(limit: min(max(limit, 1), 1_000)))
    }

    private func run(_ context: CoordinatorContext) async throws -> RunRecord {
        let id = try context.parameters.require("id")
        guard let run = try await store.run(id) else { throw Failure(.notFound, "no run '\(id)'") }
        return run
    }

    private func runDetail(_ context: CoordinatorContext) async throws -> Response {
        let run = try await run(context)
        return try json(Wire.RunDetail(run: run, tasks: try await store.tasks(runID: run.id)))
    }

    private func cancel(_ context: CoordinatorContext) async throws -> Response {
        let run = try await run(context)
        if run.state.isFinished { throw Failure(.conflict, "run \(run.id) is already \(run.state.rawValue)") }
        try await store.cancel(runID: run.id, now: Date().timeIntervalSince1970)
        return try json(try await self.run(context))
    }

    private func retry(_ context: CoordinatorContext) async throws -> Response {
        let run = try await run(context)
        do {
            try await store.retry(runID: run.id, now: Date().timeIntervalSince1970)
        } catch let error as EngineError {
            throw Failure(.conflict, error.message)
        }
        workMayBeReady()
        return try json(try await self.run(context))
    }

    private func log(_ request: Request, _ context: CoordinatorContext) async throws -> Response {
        let run = try await run(context)
        let nodeID = try context.parameters.require("node")
        let name = try context.parameters.require("name")
        guard Wire.logFiles.contains(name) else { throw Failure(.badRequest, "'\(name)' is not a log file of an attempt") }
        guard let task = try await store.tasks(runID: run.id).first(where: { $0.spec.nodeID == nodeID }) else {
            throw Failure(.notFound, "run \(run.id) has no node '\(nodeID)'")
        }
        let attempt = request.uri.queryParameters.get("attempt").flatMap { Int(String($0)) } ?? task.snapshot.attempt
        let path = "\(workspace.attemptFolder(run: run.id, node: nodeID, attempt: attempt))/\(name)"
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(.notFound, "attempt \(attempt) of \(nodeID) has no \(name) here") }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: try await FileIO().loadFile(path: path, context: context))
    }

    /// Wakes the claims waiting here, and tells the other coordinators.
    private func workMayBeReady() {
        wakeups.signal()
        if let notifications { Task { await notifications.announce() } }
    }

    // MARK: Bodies

    private func body<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try Wire.encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func identity(_ node: NodeRecord) -> Wire.Identity {
        Wire.Identity(node: node.name, role: node.role, state: node.state)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// A refusal with its status and a JSON body that says why.
    struct Failure: Error {
        var status: HTTPResponse.Status
        var problem: Wire.Problem

        init(_ status: HTTPResponse.Status, _ message: String, rejection: QueueCore.Rejection? = nil) {
            self.status = status
            problem = Wire.Problem(message, rejection: rejection)
        }

        func response() throws -> Response {
            let data = try Wire.encoder.encode(problem)
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}

/// The request context: Hummingbird's core storage; the node is checked by each route.
public struct CoordinatorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}
