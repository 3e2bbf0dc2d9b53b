import Foundation

/// Checks a published version: that its id is its manifest's digest, that the signature is the
/// publisher's over those bytes, that every file has its digest and size, and that the lineage
/// links hold in this store's records. Every check is reported, failed or not.
public struct Verifier: Sendable {
    public var store: (any RunStore)?
    public var registry: (any MarketRegistry)?

    public init(store: (any RunStore)?, registry: (any MarketRegistry)?) {
        self.store = store
        self.registry = registry
    }

    public struct Check: Sendable, Hashable {
        public enum Result: String, Sendable, Hashable {
            case passed
            case failed
            /// Could not be checked here (a run recorded in another store).
            case skipped
        }

        /// What was checked: `signature`, `manifest`, `file model.h5`, `lineage`.
        public var subject: String
        public var result: Result
        public var message: String
    }

    public struct Report: Sendable {
        public var reference: String
        public var checks: [Check]

        public var failures: [Check] { checks.filter { $0.result == .failed } }
        public var passed: Bool { failures.isEmpty }
    }

    /// Where the files of a version are read from.
    public enum Files: Sendable {
        case artifacts(ArtifactStore)
        /// A pulled copy: each file by its manifest path.
        case folder(String)
    }

    public func verify(
        manifestBytes: Data,
        signature: ManifestSignature,
        expected: (name: String, version: String)?,
        files: Files,
        trustedKey: PublicSigningKey? = nil
    ) async -> Report {
        var checks: [Check] = []
        func pass(_ subject: String, _ message: String) { checks.append(Check(subject: subject, result: .passed, message: message)) }
        func fail(_ subject: String, _ message: String) { checks.append(Check(subject: subject, result: .failed, message: message)) }
        func skip(_ subject: String, _ message: String) { checks.append(Check(subject: subject, result: .skipped, message: message)) }

        let digest = Digest.sha256(manifestBytes)
        if digest == signature.id {
            pass("manifest", "its sha256 is the version id \(digest.prefix(16))")
        } else {
            fail("manifest", "its sha256 is \(digest.prefix(16)), not the version id \(signature.id.prefix(16)): the manifest was changed after it was published")
        }
        let manifest: ModelManifest
        do {
            manifest = try ModelManifest.decode(manifestBytes)
        } catch {
            fail("manifest", "\(error)")
            return Report(reference: expected.map { "\($0.name)@\($0.version)" } ?? signature.id, checks: checks)
        }
        let reference = "\(manifest.name)@\(manifest.version)"
        if let expected, (expected.name, expected.version) != (manifest.name, manifest.version) {
            fail("manifest", "it describes \(reference), but is recorded as \(expected.name)@\(expected.version)")
        }

        // The signature.
        do {
            let key = try PublicSigningKey(base64: signature.publicKey)
            guard let bytes = Data(base64Encoded: signature.signature) else {
                throw EngineError("the signature is not base64")
            }
            if !key.isValidSignature(bytes, for: manifestBytes) {
                fail("signature", "not a valid Ed25519 signature of the manifest by key \(key.fingerprint)")
            } else if manifest.publisher.publicKey != key.base64 {
                fail("signature", "valid, but made by key \(key.fingerprint), not the publisher's key \(manifest.publisher.fingerprint) that the manifest names")
            } else if let trustedKey, trustedKey != key {
                fail("signature", "valid, by key \(key.fingerprint) ('\(manifest.publisher.keyName)'), but not by the key required, \(trustedKey.fingerprint)")
            } else {
                pass("signature", "valid Ed25519 signature by \(key.fingerprint) ('\(manifest.publisher.keyName)')" + (trustedKey == nil ? "" : ", the key required"))
            }
        } catch {
            fail("signature", "\(error)")
        }

        // The files.
        for file in manifest.files {
            let subject = "file \(file.path)"
            let path: String
            switch files {
            case .artifacts(let store):
                guard Digest.isValid(file.sha256) else {
                    fail(subject, "'\(file.sha256)' is not a sha256 digest")
                    continue
                }
                path = store.path(of: file.sha256)
            case .folder(let folder):
                guard !file.path.contains("/"), !file.path.hasPrefix(".") else {
                    fail(subject, "the path is not a plain file name")
                    continue
                }
                path = "\(folder)/\(file.path)"
            }
            guard FileManager.default.fileExists(atPath: path) else {
                fail(subject, "missing (\(path))")
                continue
            }
            do {
                let (actual, size) = try Digest.sha256(ofFile: path)
                if actual != file.sha256 {
                    fail(subject, "its sha256 is \(actual.prefix(16)), but the manifest says \(file.sha256.prefix(16)): the file was changed")
                } else if size != file.size {
                    fail(subject, "\(size) bytes, but the manifest says \(file.size)")
                } else {
                    pass(subject, "sha256 \(file.sha256.prefix(16)), \(file.size) bytes")
                }
            } catch {
                fail(subject, "cannot be read: \(error)")
            }
        }
        if manifest.modelFile == nil { fail("manifest", "it lists no model file") }

        await checkLineage(manifest, pass: pass, fail: fail, skip: skip)
        return Report(reference: reference, checks: checks)
    }

    private func checkLineage(
        _ manifest: ModelManifest,
        pass: (String, String) -> Void,
        fail: (String, String) -> Void,
        skip: (String, String) -> Void
    ) async {
        guard let lineage = manifest.lineage else {
            skip("lineage", "none: the model was published from a file, not from a recorded run")
            return
        }
        guard let store, let run = try? await store.run(lineage.run), run.id == lineage.run else {
            skip("lineage", "run \(lineage.run) is not in this store, so its links cannot be checked here")
            return
        }
        var problems: [String] = []
        if run.fileDigest != lineage.pipelineFileSHA256 {
            problems.append("the run's pipeline file has sha256 \(run.fileDigest.prefix(16)), the manifest says \(lineage.pipelineFileSHA256.prefix(16))")
        }
        if run.params != lineage.params { problems.append("the run's parameters are \(run.params), the manifest says \(lineage.params)") }
        let tasks = (try? await store.tasks(runID: run.id)) ?? []
        let byNode = Dictionary(tasks.map { ($0.spec.nodeID, $0) }, uniquingKeysWith: { first, _ in first })
        if let producer = byNode[lineage.node] {
            if producer.spec.planKey != lineage.planKey {
                problems.append("\(lineage.node)'s plan key is \(producer.spec.planKey.prefix(16)), the manifest says \(lineage.planKey.prefix(16))")
            }
            if let model = manifest.modelFile, !producer.outputs.contains(where: { $0.digest == model.sha256 }) {
                problems.append("the model file is not an output of \(lineage.node) in the run")
            }
        } else {
            problems.append("the run has no step \(lineage.node)")
        }
        for input in lineage.inputs
        where !(byNode[input.node]?.inputs.contains { $0.digest == input.sha256 && $0.name == input.argument } ?? false) {
            problems.append("\(input.node) did not read \(input.source.isEmpty ? input.argument : input.source) with sha256 \(input.sha256.prefix(16))")
        }
        for (node, seed) in lineage.seeds where byNode[node].map({ String($0.spec.seed) != seed }) ?? true {
            problems.append("the seed of \(node) is not \(seed)")
        }
        if let parent = lineage.parentSHA256, let registry,
           (try? await registry.marketVersions(withFile: parent))?.isEmpty ?? true,
           !(byNode.values.contains { $0.inputs.contains { $0.digest == parent } }) {
            problems.append("the parent model \(parent.prefix(16)) is neither in the market nor an input of the run")
        }
        if problems.isEmpty {
            pass("lineage", "run \(run.id) of \(run.pipeline): pipeline file, parameters, \(lineage.node)'s plan key and output, \(lineage.seeds.count) seeds and \(lineage.inputs.count) inputs match its record")
        } else {
            for problem in problems { fail("lineage", problem) }
        }
    }
}
