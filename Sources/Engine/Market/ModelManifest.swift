import Foundation

/// What a published model version is: its model card, its files by digest, and the lineage that
/// binds it to the run that made it. Its bytes (JSON, keys sorted, no insignificant whitespace)
/// are kept exactly as published: the version's id is their sha256 and the publisher's signature
/// covers them, so a reader checks them as they are and never re-encodes them.
public struct ModelManifest: Codable, Sendable, Hashable {
    public static let currentFormat = "blacktail.manifest/1"

    public var format: String
    public var name: String
    public var version: String
    /// ISO 8601, UTC.
    public var publishedAt: String
    public var publisher: Publisher
    public var card: ModelCard
    public var files: [File]
    /// Nil for a model published from a file that no recorded run produced.
    public var lineage: Lineage?
    public var blacktailVersion: String

    public struct Publisher: Codable, Sendable, Hashable {
        public var keyName: String
        /// The base64 of the Ed25519 public key.
        public var publicKey: String
        public var fingerprint: String

        enum CodingKeys: String, CodingKey {
            case keyName = "key_name"
            case publicKey = "public_key"
            case fingerprint
        }
    }

    public struct File: Codable, Sendable, Hashable {
        /// The file's name in a pulled copy: `model.h5`, `metrics.json`.
        public var path: String
        /// `model` or `metrics`.
        public var role: String
        public var sha256: String
        public var size: Int64
    }

    public struct Feature: Codable, Sendable, Hashable {
        public var name: String
        /// `float32`: every feature of the dataset format is a 32-bit float.
        public var type: String
    }

    /// What a model expects and what it was measured on.
    public struct ModelCard: Codable, Sendable, Hashable {
        public var description: String
        public var framework: String
        /// `classification`, `regression`, `clustering`, `projection` or `reinforcement`.
        public var task: String
        public var features: [Feature]
        /// How inputs are transformed before the model sees them (`standard`, `min-max`), saved in
        /// the checkpoint and applied by `predict`; nil when the model takes raw features.
        public var preprocessing: String?
        public var target: String
        public var classes: [String]
        /// The environment a reinforcement-learning model acts in.
        public var environment: String?
        public var metrics: [String: Double]
        /// What the metrics were measured on.
        public var evaluation: Evaluation?
        /// An SPDX licence identifier or expression.
        public var license: String
        public var tags: [String]
        /// In BLACK tokens; 0 is free.
        public var price: Double
    }

    public struct Evaluation: Codable, Sendable, Hashable {
        /// The step that measured them (`evaluate`).
        public var node: String
        /// The sha256 of the dataset they were measured on.
        public var datasetSHA256: String
        /// That dataset's name in the run (`split.test`).
        public var dataset: String

        enum CodingKeys: String, CodingKey {
            case node
            case datasetSHA256 = "dataset_sha256"
            case dataset
        }
    }

    /// How the model was made: the run, the pipeline, the step, every seed and every dataset
    /// the model's steps read.
    public struct Lineage: Codable, Sendable, Hashable {
        public var run: String
        public var pipeline: String
        public var pipelineFileSHA256: String
        /// The node that wrote the model (`train`) and its plan key.
        public var node: String
        public var planKey: String
        /// The run's parameters as canonical JSON, byte for byte as the run recorded them.
        public var params: String
        /// The seed of each node the model depends on, in decimal.
        public var seeds: [String: String]
        /// Every dataset and project file those nodes read.
        public var inputs: [Input]
        /// The sha256 of the checkpoint a transfer-learning model started from.
        public var parentSHA256: String?
        /// `NAME@VERSION` of the parent when it came from the market.
        public var parentModel: String?
        public var blacktailVersion: String
        public var host: String
        public var platform: String

        public struct Input: Codable, Sendable, Hashable {
            /// The node that read it.
            public var node: String
            /// Its argument there (`train`, `path`).
            public var argument: String
            /// Where it came from: `split.train`, or a project file's path.
            public var source: String
            public var type: String
            public var sha256: String
            public var size: Int64
        }

        enum CodingKeys: String, CodingKey {
            case run, pipeline, node, params, seeds, inputs, host, platform
            case pipelineFileSHA256 = "pipeline_file_sha256"
            case planKey = "plan_key"
            case parentSHA256 = "parent_sha256"
            case parentModel = "parent_model"
            case blacktailVersion = "blacktail_version"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, name, version, publisher, card, files, lineage
        case publishedAt = "published_at"
        case blacktailVersion = "blacktail_version"
    }

    /// The canonical bytes: keys sorted, no whitespace, `/` unescaped.
    public func canonicalBytes() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads manifest bytes; the error says what is wrong with them.
    public static func decode(_ bytes: Data) throws -> ModelManifest {
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: bytes)
        } catch let DecodingError.keyNotFound(key, context) {
            throw EngineError("the manifest has no '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw EngineError("the manifest's '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw EngineError("the manifest is not JSON a manifest can be read from")
        }
        guard manifest.format == currentFormat else {
            throw EngineError("the manifest's format is '\(manifest.format)'; this blacktail reads \(currentFormat)")
        }
        return manifest
    }

    public var modelFile: File? { files.first { $0.role == "model" } }
}

/// The signature of a manifest, as `manifest.sig` of a pulled model holds it.
public struct ManifestSignature: Codable, Sendable, Hashable {
    public var algorithm: String
    /// The version's id: the sha256 of the manifest's bytes.
    public var id: String
    public var publicKey: String
    /// The base64 of the 64-byte Ed25519 signature of the manifest's bytes.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case algorithm, id, signature
        case publicKey = "public_key"
    }
}
