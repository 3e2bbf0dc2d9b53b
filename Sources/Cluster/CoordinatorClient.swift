import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1

/// A client of a coordinator's API: JSON calls, and files by digest in both directions. Every
/// file received is checked against its digest before it enters the local artifact store.
public struct CoordinatorClient: Sendable {
    public let baseURL: String
    private let token: String
    private let http: HTTPClient

    /// `url` as `http://HOST:PORT` (or `https://`, through a TLS proxy); `token` as
    /// `blacktail nodes add` printed it.
    public init(url: String, token: String, http: HTTPClient = .shared) throws {
        let trimmed = url.hasSuffix("/") ? String(url.dropLast()) : url
        guard let components = URLComponents(string: trimmed), ["http", "https"].contains(components.scheme ?? ""),
              components.host?.isEmpty == false else {
            throw EngineError("'\(url)' is not a coordinator URL (http://HOST:PORT)")
        }
        baseURL = trimmed
        self.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        self.http = http
    }

    /// Reads a token file (owner-only, as `blacktail nodes add --token-file` writes it).
    public static func token(file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw EngineError("cannot read the token file \(file)") }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.hasPrefix("btn_") else { throw EngineError("\(file) does not hold a node token (they start with btn_)") }
        return token
    }

    // MARK: JSON

    /// Calls the API; a refusal throws ``Wire/Problem`` with the coordinator's reason.
    public func call<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: (some Encodable)? = Optional<Int>.none, timeout: TimeAmount = .seconds(60),
        as: Response.Type = Response.self
    ) async throws -> Response {
        var request = request(method, path)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try Wire.encoder.encode(body)))
        }
        let response = try await send(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 256 << 20)
        try Self.check(response.status, bytes, path: path)
        if Response.self == Empty.self { return Empty() as! Response }
        return try JSONDecoder().decode(Response.self, from: Data(bytes.readableBytesView))
    }

    /// A text (a log), or nil when the coordinator has none under `path`.
    public func text(_ path: String) async throws -> String? {
        let response = try await send(request(.GET, path), timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 256 << 20)
        if response.status == .notFound { return nil }
        try Self.check(response.status, bytes, path: path)
        return String(decoding: bytes.readableBytesView, as: UTF8.self)
    }

    /// A path segment with everything but letters, digits, `-`, `_` and `.` percent-encoded.
    public static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")) ?? text
    }

    /// An answer with no body of interest.
    public struct Empty: Decodable, Sendable {}

    // MARK: Files

    /// Whether the coordinator has the file.
    public func hasArtifact(_ digest: String) async throws -> Bool {
        let response = try await send(request(.HEAD, "/v1/artifacts/\(digest)"), timeout: .seconds(60))
        switch response.status {
        case .ok: return true
        case .notFound: return false
        default:
            try Self.check(response.status, try await response.body.collect(upTo: 1 << 20), path: "/v1/artifacts/\(digest)")
            return false
        }
    }

    /// Downloads a file into `artifacts`, checking its digest; `query` names the task it is for.
    public func download(_ digest: String, into artifacts: ArtifactStore, query: String = "") async throws {
        let path = "/v1/artifacts/\(digest)\(query)"
        let response = try await send(request(.GET, path), timeout: .hours(6))
        guard response.status == .ok else {
            try Self.check(response.status, try await response.body.collect(upTo: 1 << 20), path: path)
            return
        }
        try FileManager.default.createDirectory(atPath: artifacts.staging, withIntermediateDirectories: true)
        let temporary = "\(artifacts.staging)/download-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw EngineError("cannot write to \(artifacts.staging)")
        }
        do {
            defer { try? handle.close() }
            for try await buffer in response.body { try handle.write(contentsOf: buffer.readableBytesView) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        let (actual, _) = try Digest.sha256(ofFile: temporary)
        guard actual == digest else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw EngineError("the coordinator sent bytes with sha256 \(actual.prefix(12)) for artifact \(digest.prefix(12)); nothing was kept")
        }
        try artifacts.ingest(moving: temporary)
    }

    /// Uploads a file to `path` (an artifact by digest, or an attempt's log).
    public func upload(file: String, to path: String) async throws {
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0
        var request = request(.PUT, path)
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(FileChunks(path: file), length: .known(size))
        let response = try await send(request, timeout: .hours(6))
        try Self.check(response.status, try await response.body.collect(upTo: 1 << 20), path: path)
    }

    // MARK: Requests

    private func request(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return request
    }

    private func send(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: timeout)
        } catch let error where !(error is CancellationError) && (error as? HTTPClientError) != .cancelled {
            throw Unreachable(description: "cannot reach the coordinator at \(baseURL): \(error)")
        }
    }

    /// The coordinator could not be reached.
    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Calls `body` until it succeeds, fails for good, or `seconds` pass: a coordinator being
    /// restarted, or whose store is, is waited for.
    public static func retrying<T>(for seconds: Double, _ body: () async throws -> T) async throws -> T {
        let deadline = Date().timeIntervalSince1970 + seconds
        var pause = 0.2
        while true {
            do {
                return try await body()
            } catch let error where Date().timeIntervalSince1970 < deadline && !Task.isCancelled {
                let transient = error is Unreachable || (error as? Wire.Problem)?.isTransient == true
                guard transient else { throw error }
                try await Task.sleep(for: .seconds(pause))
                pause = min(pause * 2, 2)
            }
        }
    }

    private static func check(_ status: HTTPResponseStatus, _ body: ByteBuffer, path: String) throws {
        guard !(200..<300).contains(status.code) else { return }
        if var problem = try? JSONDecoder().decode(Wire.Problem.self, from: Data(body.readableBytesView)) {
            problem.error = "the coordinator refused \(path) (\(status.code)): \(problem.error)"
            problem.status = Int(status.code)
            throw problem
        }
        throw Wire.Problem("the coordinator answered \(path) with \(status.code) \(status.reasonPhrase)", status: Int(status.code))
    }
}

/// A file's bytes in chunks, read as they are sent.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        var handle: FileHandle?
        var done = false

        mutating func next() async throws -> ByteBuffer? {
            if done { return nil }
            if handle == nil {
                guard let opened = FileHandle(forReadingAtPath: path) else { throw EngineError("cannot read \(path)") }
                handle = opened
            }
            guard let data = try handle?.read(upToCount: 1 << 20), !data.isEmpty else {
                try? handle?.close()
                done = true
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path) }
}
