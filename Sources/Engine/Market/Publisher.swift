import Foundation
import Frameworks

/// Publishes models: reads the model card from the checkpoint, takes the lineage from the run's
/// record, stores the files, signs the manifest and records the version.
public struct Publisher: Sendable {
    public var registry: any MarketRegistry
    public var store: any RunStore
    public var workspace: Workspace

    public init(registry: any MarketRegistry, store: any RunStore, workspace: Workspace) {
        self.registry = registry
        self.store = store
        self.workspace = workspace
    }

    /// What to publish.
    public struct Request: Sendable {
        public var name: String
        /// Nil raises the patch number of the highest version (1.0.0 for a new name).
        public var version: String?
        public var model: String
        public var metrics: String?
        public var description: String
        public var license: String
        public var tags: [String]
        public var price: Double
        /// The key that signs; nil takes the home's default key.
        public var key: String?
        /// The run and the nodes whose outputs are published, for the lineage; nil publishes a
        /// file with no lineage.
        public var origin: Origin?

        public struct Origin: Sendable {
            public var runID: String
            /// The node whose output is the model, and the one whose output is the metrics.
            public var modelNode: String
            public var metricsNode: String?

            public init(runID: String, modelNode: String, metricsNode: String?) {
                self.runID = runID
                self.modelNode = modelNode
                self.metricsNode = metricsNode
            }
        }

        public init(name: String, version: String? = nil, model: String, metrics: String? = nil, description: String = "", license: String = "CC-BY-4.0", tags: [String] = [], price: Double = 0, key: String? = nil, origin: Origin? = nil) {
            self.name = name
            self.version = version
            self.model = model
            self.metrics = metrics
            self.description = description
            self.license = license
            self.tags = tags
            self.price = price
            self.key = key
            self.origin = origin
        }
    }

    /// The version published, and whether it is new (false when the latest version of the name,
    /// or the version given, has the same files and model card already).
    public func publish(_ request: Request, now: Date = Date()) async throws -> (version: MarketVersion, created: Bool) {
        try MarketNames.checkName(request.name)
        try Self.checkLicense(request.license)
        guard request.price >= 0, request.price.isFinite else { throw EngineError("price \(request.price): a price is 0 (free) or more BLACK tokens") }
        for tag in request.tags { try Self.checkTag(tag) }
        if let version = request.version, SemanticVersion(version) == nil {
            throw EngineError("version '\(version)' is not a semantic version (MAJOR.MINOR.PATCH, such as 1.0.0)")
        }
        let key = try KeyRing(folder: workspace.keysFolder).key(request.key)

        let info: ModelInfo
        do {
            info = try Checkpoint.read(request.model).info
        } catch {
            throw EngineError("cannot publish \(request.model): \(error)")
        }
        let artifacts = workspace.artifacts
        let model = try artifacts.ingest(copying: request.model)
        var files = [ModelManifest.File(path: "model.h5", role: "model", sha256: model.digest, size: model.size)]
        var metrics: [String: Double] = [:]
        if let path = request.metrics {
            do {
                metrics = try Metrics.read(path)
            } catch {
                throw EngineError("cannot publish the metrics \(path): \(error)")
            }
            let stored = try artifacts.ingest(copying: path)
            files.append(ModelManifest.File(path: "metrics.json", role: "metrics", sha256: stored.digest, size: stored.size))
        }

        var lineage: ModelManifest.Lineage?
        var evaluation: ModelManifest.Evaluation?
        if let origin = request.origin {
            (lineage, evaluation) = try await LineageReader(store: store).lineage(origin, modelDigest: model.digest, metricsDigest: files.count > 1 ? files[1].sha256 : nil)
            if !info.parentSHA256.isEmpty {
                lineage?.parentSHA256 = info.parentSHA256
                lineage?.parentModel = try await registry.marketVersions(withFile: info.parentSHA256).first?.reference
            }
        }
        let card = ModelManifest.ModelCard(
            description: request.description,
            framework: info.framework,
            task: Self.taskName(info),
            features: info.featureNames.map { ModelManifest.Feature(name: $0, type: "float32") },
            preprocessing: info.preprocessing?.method.rawValue,
            target: info.targetName,
            classes: info.classes,
            environment: info.environment?.name,
            metrics: metrics.filter { $0.value.isFinite },
            evaluation: evaluation,
            license: request.license,
            tags: request.tags,
            price: request.price
        )
        // Publishing what the latest version holds already (a scheduled run that trained the same
        // model again) adds nothing.
        if request.version == nil, let latest = try await registry.marketVersions(name: request.name).last(where: { !$0.isYanked }),
           let manifest = try? latest.manifest(), manifest.files == files, manifest.card == card {
            return (latest, false)
        }
        // A version number taken by another publisher in the meantime is taken again, higher.
        for _ in 0..<3 {
            let taken = try await registry.marketVersions(name: request.name).map(\.version)
            let number = request.version ?? Self.nextVersion(after: taken)
            let manifest = ModelManifest(
                format: ModelManifest.currentFormat,
                name: request.name,
                version: number,
                publishedAt: ISO8601DateFormatter().string(from: now),
                publisher: .init(keyName: key.name, publicKey: key.publicKey.base64, fingerprint: key.publicKey.fingerprint),
                card: card,
                files: files,
                lineage: lineage,
                blacktailVersion: Submitter.blacktailVersion
            )
            let bytes = try manifest.canonicalBytes()
            let version = MarketVersion(
                id: Digest.sha256(bytes), name: request.name, version: number, manifestBytes: bytes,
                signature: try key.sign(bytes).base64EncodedString(), publicKey: key.publicKey.base64,
                publishedAt: now.timeIntervalSince1970
            )
            do {
                let recorded = try await registry.publish(version, manifest: manifest, now: now.timeIntervalSince1970)
                return (recorded, recorded.id == version.id)
            } catch let conflict as MarketConflict {
                if request.version != nil {
                    if let same = try await registry.marketVersion(name: request.name, version: number),
                       let manifest = try? same.manifest(), manifest.files == files, manifest.card == card {
                        return (same, false)
                    }
                    throw conflict
                }
            }
        }
        throw EngineError("could not find a free version number for \(request.name); try again")
    }

    static func nextVersion(after versions: [String]) -> String {
        guard let highest = versions.compactMap(SemanticVersion.init).max() else { return "1.0.0" }
        return highest.nextPatch.description
    }

    static func taskName(_ info: ModelInfo) -> String {
        switch (info.task, info.framework) {
        case (.unlabelled, "pca"): "projection"
        case (.unlabelled, _): "clustering"
        default: info.task.rawValue
        }
    }

    /// An SPDX identifier or expression: `MIT`, `Apache-2.0`, `CC-BY-4.0`, `MIT OR Apache-2.0`,
    /// `LicenseRef-Proprietary`.
    static func checkLicense(_ license: String) throws {
        let words = license.split(separator: " ")
        let valid = !words.isEmpty && words.enumerated().allSatisfy { index, word in
            if index % 2 == 1 { return ["AND", "OR", "WITH"].contains(word) }
            return word.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "+") }
        } && words.count % 2 == 1
        guard valid else {
            throw EngineError("licence '\(license)' is not an SPDX identifier or expression (such as MIT, Apache-2.0, CC-BY-4.0, or LicenseRef-NAME for your own)")
        }
    }

    static func checkTag(_ tag: String) throws {
        guard (1...64).contains(tag.count), !tag.contains(where: { $0.isWhitespace || $0 == "," }) else {
            throw EngineError("tag '\(tag)': a tag is 1 to 64 characters without spaces or commas")
        }
    }
}

/// Reads a model's lineage from the record of the run that made it.
struct LineageReader {
    var store: any RunStore

    func lineage(_ origin: Publisher.Request.Origin, modelDigest: String, metricsDigest: String?) async throws -> (ModelManifest.Lineage, ModelManifest.Evaluation?) {
        guard let run = try await store.run(origin.runID) else { throw EngineError("the store has no run \(origin.runID)") }
        let tasks = try await store.tasks(runID: run.id)
        let byNode = Dictionary(tasks.map { ($0.spec.nodeID, $0) }, uniquingKeysWith: { first, _ in first })
        guard let producer = byNode[origin.modelNode] else { throw EngineError("run \(run.id) has no step \(origin.modelNode)") }
        guard producer.outputs.contains(where: { $0.digest == modelDigest }) else {
            throw EngineError("the model is not an output of \(origin.modelNode) in run \(run.id) (its sha256 is \(modelDigest.prefix(12)))")
        }
        // The producer and everything it needs, transitively.
        var ancestry: [String] = []
        var seen: Set<String> = []
        var pending = [producer.spec.nodeID]
        while let node = pending.popLast() {
            guard seen.insert(node).inserted, let task = byNode[node] else { continue }
            ancestry.append(node)
            pending += task.spec.needs
        }
        var seeds: [String: String] = [:]
        var inputs: [ModelManifest.Lineage.Input] = []
        for task in tasks where seen.contains(task.spec.nodeID) {
            seeds[task.spec.nodeID] = String(task.spec.seed)
            for input in task.inputs {
                inputs.append(.init(node: task.spec.nodeID, argument: input.name, source: input.source ?? "", type: input.type, sha256: input.digest, size: input.size))
            }
        }
        var evaluation: ModelManifest.Evaluation?
        if let node = origin.metricsNode, let metricsDigest, let evaluator = byNode[node],
           evaluator.outputs.contains(where: { $0.digest == metricsDigest }),
           let data = evaluator.inputs.first(where: { $0.type == "dataset" }) {
            evaluation = .init(node: node, datasetSHA256: data.digest, dataset: data.source ?? data.name)
        }
        let lineage = ModelManifest.Lineage(
            run: run.id, pipeline: run.pipeline, pipelineFileSHA256: run.fileDigest, node: producer.spec.nodeID,
            planKey: producer.spec.planKey, params: run.params, seeds: seeds, inputs: inputs,
            parentSHA256: nil, parentModel: nil,
            blacktailVersion: run.blacktailVersion, host: run.host, platform: run.platform
        )
        return (lineage, evaluation)
    }
}
