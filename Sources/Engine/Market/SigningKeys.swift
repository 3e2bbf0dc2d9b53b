import Crypto
import Foundation

/// An Ed25519 key that signs publish manifests.
public struct SigningKey: Sendable {
    public let name: String
    public let createdAt: Double
    let privateKey: Curve25519.Signing.PrivateKey

    public var publicKey: PublicSigningKey { PublicSigningKey(privateKey.publicKey) }

    /// Signs bytes; Ed25519 signatures are deterministic, so the same bytes give the same signature.
    public func sign(_ bytes: some DataProtocol) throws -> Data {
        try privateKey.signature(for: Data(bytes))
    }
}

/// The public half of a signing key, as manifests and signatures name it.
public struct PublicSigningKey: Sendable, Hashable {
    public static let algorithm = "ed25519"

    let key: Curve25519.Signing.PublicKey

    init(_ key: Curve25519.Signing.PublicKey) {
        self.key = key
    }

    /// Reads the base64 of the 32 raw bytes.
    public init(base64: String) throws {
        guard let data = Data(base64Encoded: base64), data.count == 32,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data) else {
            throw EngineError("'\(base64.prefix(60))' is not an Ed25519 public key (the base64 of 32 bytes)")
        }
        self.key = key
    }

    public var base64: String { key.rawRepresentation.base64EncodedString() }

    /// `ed25519:` and the first 16 hex digits of the key's sha256: short enough to read aloud.
    public var fingerprint: String {
        "\(Self.algorithm):" + Digest.sha256(key.rawRepresentation).prefix(16)
    }

    public func isValidSignature(_ signature: Data, for bytes: some DataProtocol) -> Bool {
        key.isValidSignature(signature, for: Data(bytes))
    }

    public static func == (lhs: PublicSigningKey, rhs: PublicSigningKey) -> Bool {
        lhs.key.rawRepresentation == rhs.key.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key.rawRepresentation)
    }
}

/// The signing keys of a home, one JSON file each under `keys/` (readable by its owner only), and
/// which of them signs when a publish names none.
///
/// ```
/// keys/
///   default            the name of the default key
///   alice.key          {"algorithm": "ed25519", "created_at": ..., "name": "alice", "private_key": "<base64>", "public_key": "<base64>"}
/// ```
public struct KeyRing: Sendable {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    /// What `keys list` shows of a key.
    public struct Entry: Sendable {
        public var name: String
        public var publicKey: PublicSigningKey
        public var createdAt: Double
        public var isDefault: Bool
    }

    private struct KeyFile: Codable {
        var algorithm: String
        var name: String
        var createdAt: Double
        var privateKey: String
        var publicKey: String

        enum CodingKeys: String, CodingKey {
            case algorithm, name
            case createdAt = "created_at"
            case privateKey = "private_key"
            case publicKey = "public_key"
        }
    }

    /// Makes a new key; the first key of a home becomes its default.
    @discardableResult
    public func create(name: String, now: Double = Date().timeIntervalSince1970) throws -> SigningKey {
        try Self.checkName(name)
        let path = keyPath(name)
        guard !FileManager.default.fileExists(atPath: path) else {
            throw EngineError("a key named '\(name)' exists already (\(path)); keys are never overwritten")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = SigningKey(name: name, createdAt: now, privateKey: Curve25519.Signing.PrivateKey())
        let file = KeyFile(
            algorithm: PublicSigningKey.algorithm, name: name, createdAt: now,
            privateKey: key.privateKey.rawRepresentation.base64EncodedString(), publicKey: key.publicKey.base64
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(file) + Data("\n".utf8)
        // Created readable by the owner only, before any byte of the key is written.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw EngineError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count else { throw EngineError("cannot write \(path): \(String(cString: strerror(errno)))") }
        if try defaultName() == nil { try setDefault(name) }
        return key
    }

    /// Every key, by name.
    public func entries() throws -> [Entry] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".key") }
            .map { String($0.dropLast(4)) }
            .sorted()
        let chosen = try defaultName()
        return try names.map { name in
            let key = try load(name)
            return Entry(name: name, publicKey: key.publicKey, createdAt: key.createdAt, isDefault: name == chosen)
        }
    }

    /// The key named, or the default key when `name` is nil.
    public func key(_ name: String?) throws -> SigningKey {
        if let name { return try load(name) }
        guard let chosen = try defaultName() else {
            throw EngineError("no signing key in \(folder): make one with 'blacktail keys new NAME'")
        }
        return try load(chosen)
    }

    public func setDefault(_ name: String) throws {
        _ = try load(name)
        try Data("\(name)\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/default"), options: .atomic)
    }

    public func defaultName() throws -> String? {
        guard let data = FileManager.default.contents(atPath: "\(folder)/default") else { return nil }
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : name
    }

    private func load(_ name: String) throws -> SigningKey {
        try Self.checkName(name)
        let path = keyPath(name)
        guard let data = FileManager.default.contents(atPath: path) else {
            let known = ((try? entryNames()) ?? []).joined(separator: ", ")
            throw EngineError("no key named '\(name)' in \(folder)" + (known.isEmpty ? "; make one with 'blacktail keys new \(name)'" : "; the keys are \(known)"))
        }
        guard let file = try? JSONDecoder().decode(KeyFile.self, from: data), file.algorithm == PublicSigningKey.algorithm,
              let raw = Data(base64Encoded: file.privateKey),
              let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw EngineError("\(path) is not a Blacktail signing key (an Ed25519 key file written by 'blacktail keys new')")
        }
        guard privateKey.publicKey.rawRepresentation.base64EncodedString() == file.publicKey else {
            throw EngineError("\(path): its public key does not belong to its private key; the file was altered")
        }
        return SigningKey(name: file.name, createdAt: file.createdAt, privateKey: privateKey)
    }

    private func entryNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".key") }.map { String($0.dropLast(4)) }.sorted()
    }

    private func keyPath(_ name: String) -> String { "\(folder)/\(name).key" }

    /// Key names are file names: letters, digits, `-` and `_`, at most 64.
    static func checkName(_ name: String) throws {
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else {
            throw EngineError("'\(name)' is not a key name: use 1 to 64 letters, digits, '-' and '_'")
        }
    }
}
