import Foundation
public import PipelineLanguage

/// What `blacktail plan` says about the cache: for each node, whether a run now would reuse
/// earlier outputs, and why not when it would not.
public enum CachePreview {
    public enum Verdict: Sendable, Equatable {
        case hit(runID: String, node: String, at: Double)
        case miss(reason: String)
    }

    public static func verdicts(
        plan: Plan,
        projectDirectory: String,
        signatures: OpSignatureSet,
        store: any RunStore,
        artifacts: ArtifactStore,
        noCache: Bool
    ) async throws -> [String: Verdict] {
        var verdicts: [String: Verdict] = [:]
        /// Output digests of nodes that would hit, to compute their dependants' keys.
        var known: [String: [String: ArtifactRecord]] = [:]
        for node in plan.nodes {
            let spec = TaskSpec(node: node, signatures: signatures)
            if noCache { verdicts[node.id] = .miss(reason: "--no-cache"); continue }
            if !spec.cache { verdicts[node.id] = .miss(reason: "cache: false"); continue }
            var inputs: [ArtifactRecord] = []
            var unknown: String?
            for named in spec.arguments {
                switch named.argument {
                case .artifact(let reference):
                    if let record = known[reference.node]?[reference.output] {
                        inputs.append(ArtifactRecord(name: named.name, type: record.type, digest: record.digest, size: record.size))
                    } else { unknown = unknown ?? reference.node }
                case .artifacts(let references):
                    for (position, reference) in references.enumerated() {
                        if let record = known[reference.node]?[reference.output] {
                            inputs.append(ArtifactRecord(name: named.name, position: position, type: record.type, digest: record.digest, size: record.size))
                        } else { unknown = unknown ?? reference.node }
                    }
                case .projectFile(let path):
                    let full = path.hasPrefix("/") ? path : "\(projectDirectory)/\(path)"
                    guard let (digest, size) = try? Digest.sha256(ofFile: full) else {
                        verdicts[node.id] = .miss(reason: "the project file \(path) is missing")
                        continue
                    }
                    inputs.append(ArtifactRecord(name: named.name, type: "file", digest: digest, size: size))
                case .recordedFile(_, let digest):
                    inputs.append(ArtifactRecord(name: named.name, type: "file", digest: digest, size: 0))
                case .pinned(let digest, let type, _):
                    inputs.append(ArtifactRecord(name: named.name, type: type, digest: digest, size: 0))
                case .value, .deferred:
                    continue
                }
            }
            if verdicts[node.id] != nil { continue }
            if let unknown {
                verdicts[node.id] = .miss(reason: "its input from \(unknown) is not known yet (\(unknown) will run)")
                continue
            }
            let key = TaskExecutor.cacheKey(planKey: spec.planKey, inputs: inputs)
            guard let entry = try await store.cacheEntry(key: key) else {
                verdicts[node.id] = .miss(reason: "never run with these arguments and inputs")
                continue
            }
            guard entry.outputs.allSatisfy({ artifacts.contains($0.digest) }) else {
                verdicts[node.id] = .miss(reason: "its earlier outputs were removed from the store")
                continue
            }
            verdicts[node.id] = .hit(runID: entry.runID, node: entry.nodeID, at: entry.createdAt)
            known[node.id] = Dictionary(entry.outputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        return verdicts
    }
}
