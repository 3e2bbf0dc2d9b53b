import Foundation

/// The market's records: published versions (their manifest bytes and signatures), their files,
/// tags, aliases and every alias move. Kept in the same store as runs, so a market server can
/// serve them over HTTP without a second format; the files themselves are in the artifact store.
///
/// Published versions are immutable: a store never changes or deletes one; a mistake is yanked.
public protocol MarketRegistry: Sendable {
    /// Records a version, and moves `latest` to it when it is the highest release of its name.
    /// A version with the same id that is there already is returned as it is; another version of
    /// the same name and number throws ``MarketConflict``.
    func publish(_ version: MarketVersion, manifest: ModelManifest, now: Double) async throws -> MarketVersion

    /// Every version of a name, or of every name when nil, oldest first.
    func marketVersions(name: String?) async throws -> [MarketVersion]
    func marketVersion(name: String, version: String) async throws -> MarketVersion?
    /// The versions that hold a file with this digest.
    func marketVersions(withFile digest: String) async throws -> [MarketVersion]

    /// Marks a version yanked (it stays, readable by its exact number); `latest` moves off it.
    func yank(name: String, version: String, reason: String, now: Double) async throws
    /// Points an alias at a version and records the move.
    func moveAlias(name: String, alias: String, to version: String, reason: String, now: Double) async throws -> AliasMove
    func aliases(name: String) async throws -> [MarketAlias]
    /// Every move of the aliases of a name, oldest first.
    func aliasMoves(name: String) async throws -> [AliasMove]
}

/// One published version, as the registry keeps it.
public struct MarketVersion: Sendable {
    /// The sha256 of ``manifestBytes``.
    public var id: String
    public var name: String
    public var version: String
    /// The manifest exactly as signed.
    public var manifestBytes: Data
    /// The base64 of the Ed25519 signature of ``manifestBytes``.
    public var signature: String
    /// The base64 of the publisher's public key.
    public var publicKey: String
    public var publishedAt: Double
    public var yankedAt: Double?
    public var yankReason: String?

    public init(id: String, name: String, version: String, manifestBytes: Data, signature: String, publicKey: String, publishedAt: Double, yankedAt: Double? = nil, yankReason: String? = nil) {
        self.id = id
        self.name = name
        self.version = version
        self.manifestBytes = manifestBytes
        self.signature = signature
        self.publicKey = publicKey
        self.publishedAt = publishedAt
        self.yankedAt = yankedAt
        self.yankReason = yankReason
    }

    public var isYanked: Bool { yankedAt != nil }
    public var reference: String { "\(name)@\(version)" }

    public func manifest() throws -> ModelManifest {
        try ModelManifest.decode(manifestBytes)
    }

    public var signatureRecord: ManifestSignature {
        ManifestSignature(algorithm: PublicSigningKey.algorithm, id: id, publicKey: publicKey, signature: signature)
    }
}

public struct MarketAlias: Sendable, Hashable {
    public var name: String
    public var alias: String
    public var version: String
    public var movedAt: Double
}

public struct AliasMove: Sendable, Hashable {
    public var name: String
    public var alias: String
    public var from: String?
    public var to: String
    public var movedAt: Double
    /// `publish`, `yank`, or `alias` (moved by hand).
    public var reason: String
}

/// A version number that is taken by different content.
public struct MarketConflict: Error, CustomStringConvertible {
    public var reference: String
    public var description: String {
        "\(reference) is already published, with different content; published versions never change: give another version, or leave the version out to raise it"
    }
}

/// Where names and references are checked.
public enum MarketNames {
    /// Model names: lowercase letters, digits, `-` and `_`, starting with a letter or digit, at
    /// most 64: safe in a file name, a URL path and after `market.` in a pipeline.
    public static func checkName(_ name: String) throws {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), isLowerAlphanumeric(bytes[0]),
              bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
            throw EngineError("'\(name)' is not a model name: use lowercase letters, digits, '-' and '_' (at most 64, starting with a letter or digit)")
        }
    }

    /// Alias names follow model names, and cannot look like a version.
    public static func checkAlias(_ alias: String) throws {
        do {
            try checkName(alias)
        } catch {
            throw EngineError("'\(alias)' is not an alias name: use lowercase letters, digits, '-' and '_'")
        }
        if alias.first!.isNumber { throw EngineError("'\(alias)' is not an alias name: an alias starts with a letter, so it never reads as a version") }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (97...122).contains(byte)
    }
}

/// `NAME`, `NAME@VERSION` or `NAME@ALIAS` as a user writes it.
public struct MarketReference: Sendable, Hashable, CustomStringConvertible {
    public enum Selector: Sendable, Hashable {
        case version(String)
        case alias(String)
    }

    public var name: String
    public var selector: Selector

    public init(parsing text: String) throws {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        name = parts[0]
        try MarketNames.checkName(name)
        guard parts.count == 2 else {
            selector = .alias("latest")
            return
        }
        if parts[1].first?.isNumber == true {
            guard SemanticVersion(parts[1]) != nil else {
                throw EngineError("'\(parts[1])' in \(text) is not a semantic version (MAJOR.MINOR.PATCH, such as 1.0.0)")
            }
            selector = .version(parts[1])
        } else {
            try MarketNames.checkAlias(parts[1])
            selector = .alias(parts[1])
        }
    }

    public var description: String {
        switch selector {
        case .version(let version): "\(name)@\(version)"
        case .alias(let alias): "\(name)@\(alias)"
        }
    }
}

extension MarketRegistry {
    /// The version a reference names. A yanked version is found by its exact number (so what
    /// pinned it still works) but never through an alias.
    public func resolve(_ reference: MarketReference) async throws -> MarketVersion {
        switch reference.selector {
        case .version(let number):
            if let found = try await marketVersion(name: reference.name, version: number) { return found }
            let known = try await marketVersions(name: reference.name).map(\.version)
            if known.isEmpty { throw EngineError("the market has no model named '\(reference.name)'") }
            throw EngineError("the market has no \(reference); its versions are \(known.joined(separator: ", "))")
        case .alias(let alias):
            let aliases = try await aliases(name: reference.name)
            guard let target = aliases.first(where: { $0.alias == alias }) else {
                if try await marketVersions(name: reference.name).isEmpty {
                    throw EngineError("the market has no model named '\(reference.name)'")
                }
                let names = aliases.map(\.alias).sorted()
                throw EngineError("\(reference.name) has no alias '\(alias)'" + (names.isEmpty ? "" : "; its aliases are \(names.joined(separator: ", "))"))
            }
            guard let found = try await marketVersion(name: reference.name, version: target.version) else {
                throw EngineError("\(reference) points to \(target.version), which the market does not have")
            }
            return found
        }
    }
}
