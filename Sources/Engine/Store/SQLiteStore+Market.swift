import Foundation
import GRDB

/// The market's tables (docs/formats.md §6) and the ``MarketRegistry`` over them.
extension SQLiteStore: MarketRegistry {
    /// Migration `v2`. Triggers keep published versions immutable and undeletable, whatever
    /// writes to the database.
    static func createMarketTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE market_versions (
                id TEXT PRIMARY KEY,
                seq INTEGER NOT NULL UNIQUE,
                name TEXT NOT NULL,
                version TEXT NOT NULL,
                manifest BLOB NOT NULL,
                signature TEXT NOT NULL,
                public_key TEXT NOT NULL,
                run_id TEXT,
                published_at REAL NOT NULL,
                yanked_at REAL,
                yank_reason TEXT,
                UNIQUE (name, version)
            );
            CREATE TABLE market_files (
                version_id TEXT NOT NULL,
                path TEXT NOT NULL,
                role TEXT NOT NULL,
                digest TEXT NOT NULL,
                size INTEGER NOT NULL,
                PRIMARY KEY (version_id, path)
            ) WITHOUT ROWID;
            CREATE INDEX market_files_by_digest ON market_files (digest);
            CREATE TABLE market_aliases (
                name TEXT NOT NULL,
                alias TEXT NOT NULL,
                version TEXT NOT NULL,
                moved_at REAL NOT NULL,
                PRIMARY KEY (name, alias)
            ) WITHOUT ROWID;
            CREATE TABLE market_alias_moves (
                seq INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                alias TEXT NOT NULL,
                from_version TEXT,
                to_version TEXT NOT NULL,
                moved_at REAL NOT NULL,
                reason TEXT NOT NULL
            );
            CREATE TRIGGER market_versions_immutable
                BEFORE UPDATE OF id, seq, name, version, manifest, signature, public_key, run_id, published_at ON market_versions
                BEGIN SELECT RAISE(ABORT, 'published versions are immutable'); END;
            CREATE TRIGGER market_versions_kept
                BEFORE DELETE ON market_versions
                BEGIN SELECT RAISE(ABORT, 'published versions are never deleted; yank them'); END;
            CREATE TRIGGER market_files_immutable
                BEFORE UPDATE ON market_files
                BEGIN SELECT RAISE(ABORT, 'published files are immutable'); END;
            CREATE TRIGGER market_files_kept
                BEFORE DELETE ON market_files
                BEGIN SELECT RAISE(ABORT, 'published files are never deleted'); END;
            """)
    }

    private static let versionColumns = "id, name, version, manifest, signature, public_key, published_at, yanked_at, yank_reason"

    private static func version(_ row: Row) -> MarketVersion {
        MarketVersion(
            id: row[0], name: row[1], version: row[2], manifestBytes: row[3], signature: row[4], publicKey: row[5],
            publishedAt: row[6], yankedAt: row[7], yankReason: row[8]
        )
    }

    public func publish(_ version: MarketVersion, manifest: ModelManifest, now: Double) async throws -> MarketVersion {
        try await write { db in
            if let row = try db.row(sql: "SELECT \(Self.versionColumns) FROM market_versions WHERE name = ? AND version = ?", arguments: [version.name, version.version]) {
                let existing = Self.version(row)
                guard existing.id == version.id else { throw MarketConflict(reference: version.reference) }
                return existing
            }
            // A name belongs to the key that signed its first version.
            if let first = try db.row(sql: "SELECT version, public_key FROM market_versions WHERE name = ? ORDER BY seq LIMIT 1", arguments: [version.name]) {
                let (number, owner): (String, String) = (first[0], first[1])
                guard owner == version.publicKey else {
                    let fingerprint = (try? PublicSigningKey(base64: owner).fingerprint) ?? owner
                    throw EngineError(
                        "the name '\(version.name)' belongs to the key that signed \(version.name)@\(number), its first version (\(fingerprint)); "
                            + "publish with that key (--key), or under another name"
                    )
                }
            }
            let seq = (try db.value(Int64.self, sql: "SELECT COALESCE(MAX(seq), 0) + 1 FROM market_versions")) ?? 1
            try db.run(
                sql: """
                    INSERT INTO market_versions (id, seq, name, version, manifest, signature, public_key, run_id, published_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    version.id, seq, version.name, version.version, version.manifestBytes, version.signature, version.publicKey,
                    manifest.lineage?.run, version.publishedAt,
                ]
            )
            for file in manifest.files {
                try db.run(
                    sql: "INSERT INTO market_files (version_id, path, role, digest, size) VALUES (?, ?, ?, ?, ?)",
                    arguments: [version.id, file.path, file.role, file.sha256, file.size]
                )
            }
            // `latest` follows the highest release that is not yanked.
            if let new = SemanticVersion(version.version), new.prerelease.isEmpty {
                let current = try db.value(String.self, sql: "SELECT version FROM market_aliases WHERE name = ? AND alias = 'latest'", arguments: [version.name])
                if current.flatMap(SemanticVersion.init).map({ $0 < new }) ?? true {
                    try Self.move(name: version.name, alias: "latest", to: version.version, reason: "publish", now: now, in: db)
                }
            }
            return version
        }
    }

    public func marketVersions(name: String?) async throws -> [MarketVersion] {
        try await pool.read { db in
            let rows = if let name {
                try db.rows(sql: "SELECT \(Self.versionColumns) FROM market_versions WHERE name = ? ORDER BY seq", arguments: [name])
            } else {
                try db.rows(sql: "SELECT \(Self.versionColumns) FROM market_versions ORDER BY name, seq")
            }
            return rows.map(Self.version)
        }
    }

    public func marketVersion(name: String, version: String) async throws -> MarketVersion? {
        try await pool.read { db in
            try db.row(sql: "SELECT \(Self.versionColumns) FROM market_versions WHERE name = ? AND version = ?", arguments: [name, version]).map(Self.version)
        }
    }

    public func marketVersions(withFile digest: String) async throws -> [MarketVersion] {
        try await pool.read { db in
            try db.rows(sql: """
                SELECT \(Self.versionColumns.split(separator: ",").map { "v." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                FROM market_versions v JOIN market_files f ON f.version_id = v.id WHERE f.digest = ? ORDER BY v.seq
                """, arguments: [digest]).map(Self.version)
        }
    }

    public func yank(name: String, version: String, reason: String, now: Double) async throws {
        try await write { db in
            guard let row = try db.row(sql: "SELECT yanked_at FROM market_versions WHERE name = ? AND version = ?", arguments: [name, version]) else {
                throw EngineError("the market has no \(name)@\(version)")
            }
            guard (row[0] as Double?) == nil else { throw EngineError("\(name)@\(version) is yanked already") }
            try db.run(sql: "UPDATE market_versions SET yanked_at = ?, yank_reason = ? WHERE name = ? AND version = ?", arguments: [now, reason, name, version])
            // Aliases never point at a yanked version: each moves to the highest release left, or
            // goes when there is none.
            let pointing = try db.values(String.self, sql: "SELECT alias FROM market_aliases WHERE name = ? AND version = ?", arguments: [name, version])
            guard !pointing.isEmpty else { return }
            let left = try db.values(String.self, sql: "SELECT version FROM market_versions WHERE name = ? AND yanked_at IS NULL", arguments: [name])
                .compactMap(SemanticVersion.init).filter(\.prerelease.isEmpty).max()
            for alias in pointing {
                if let left {
                    try Self.move(name: name, alias: alias, to: left.description, reason: "yank", now: now, in: db)
                } else {
                    try db.run(sql: "DELETE FROM market_aliases WHERE name = ? AND alias = ?", arguments: [name, alias])
                }
            }
        }
    }

    public func moveAlias(name: String, alias: String, to version: String, reason: String, now: Double) async throws -> AliasMove {
        try await write { db in
            guard let row = try db.row(sql: "SELECT yanked_at FROM market_versions WHERE name = ? AND version = ?", arguments: [name, version]) else {
                throw EngineError("the market has no \(name)@\(version)")
            }
            guard (row[0] as Double?) == nil else { throw EngineError("\(name)@\(version) is yanked; an alias cannot point at it") }
            return try Self.move(name: name, alias: alias, to: version, reason: reason, now: now, in: db)
        }
    }

    @discardableResult
    private static func move(name: String, alias: String, to version: String, reason: String, now: Double, in db: Database) throws -> AliasMove {
        let from = try db.value(String.self, sql: "SELECT version FROM market_aliases WHERE name = ? AND alias = ?", arguments: [name, alias])
        try db.run(
            sql: "INSERT OR REPLACE INTO market_aliases (name, alias, version, moved_at) VALUES (?, ?, ?, ?)",
            arguments: [name, alias, version, now]
        )
        try db.run(
            sql: "INSERT INTO market_alias_moves (name, alias, from_version, to_version, moved_at, reason) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [name, alias, from, version, now, reason]
        )
        return AliasMove(name: name, alias: alias, from: from, to: version, movedAt: now, reason: reason)
    }

    public func aliases(name: String) async throws -> [MarketAlias] {
        try await pool.read { db in
            try db.rows(sql: "SELECT name, alias, version, moved_at FROM market_aliases WHERE name = ? ORDER BY alias", arguments: [name]).map { row in
                MarketAlias(name: row[0], alias: row[1], version: row[2], movedAt: row[3])
            }
        }
    }

    public func aliasMoves(name: String) async throws -> [AliasMove] {
        try await pool.read { db in
            try db.rows(sql: "SELECT name, alias, from_version, to_version, moved_at, reason FROM market_alias_moves WHERE name = ? ORDER BY seq", arguments: [name]).map { row in
                AliasMove(name: row[0], alias: row[1], from: row[2], to: row[3], movedAt: row[4], reason: row[5])
            }
        }
    }
}
