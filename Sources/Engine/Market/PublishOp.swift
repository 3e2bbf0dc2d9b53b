import BlacktailOps
import Foundation
import PipelineLanguage

/// `market/publish`: publishes the step's model with the lineage of the run it is part of. It
/// lives in the engine because it reads the run's record and writes the market's.
struct PublishOp: Op {
    let signature = BuiltinOps.catalogue.entry("market/publish")!.signature
    let store: any RunStore & MarketRegistry
    let workspace: Workspace

    func run(_ context: OpContext) async throws {
        var origin: Publisher.Request.Origin?
        if !context.runID.isEmpty {
            // The nodes the model and metrics come from, as the step's spec names them.
            let tasks = try await store.tasks(runID: context.runID)
            if let spec = tasks.first(where: { $0.spec.nodeID == context.nodeID })?.spec {
                func node(_ argument: String) -> String? {
                    guard case .artifact(let reference)? = spec.arguments.first(where: { $0.name == argument })?.argument else { return nil }
                    return reference.node
                }
                if let modelNode = node("model") {
                    origin = .init(runID: context.runID, modelNode: modelNode, metricsNode: node("metrics"))
                }
            }
        }
        let tags: [String] = if case .list(let items)? = context.optionalValue("tags") {
            items.compactMap { if case .string(let tag) = $0 { tag } else { nil } }
        } else { [] }
        let metrics: String? = if case .path(let path)? = context.arguments["metrics"] { path } else { nil }
        let request = Publisher.Request(
            name: try context.string("name"),
            version: context.optionalValue("version").flatMap { if case .string(let text) = $0 { text } else { nil } },
            model: try context.inputPath("model"),
            metrics: metrics,
            description: (try? context.string("description")) ?? "",
            license: (try? context.string("license")) ?? "CC-BY-4.0",
            tags: tags,
            price: (try? context.double("price")) ?? 0,
            key: context.optionalValue("key").flatMap { if case .string(let text) = $0 { text } else { nil } },
            origin: origin
        )
        let publisher = Publisher(registry: store, store: store, workspace: workspace)
        let (version, created) = try await publisher.publish(request)
        context.logger.info("\(created ? "published" : "already published as") \(version.reference) (id \(version.id.prefix(16)))")
        let record: JSONValue = [
            "id": .string(version.id),
            "name": .string(version.name),
            "version": .string(version.version),
            "created": .bool(created),
            "manifest": .string(String(decoding: version.manifestBytes, as: UTF8.self)),
            "signature": .string(version.signature),
            "public_key": .string(version.publicKey),
        ]
        try Data(record.prettyText.utf8).write(to: URL(fileURLWithPath: try context.outputPath("manifest")))
    }
}

/// The ops a local engine runs: the built-in ones, and those that need the engine's store.
public enum EngineOps {
    /// The ops the engine implements itself, on top of the built-in catalogue.
    public static let names: Set<String> = ["market/publish"]

    public static func catalogue(store: any RunStore & MarketRegistry, workspace: Workspace) -> OpCatalogue {
        let builtin = BuiltinOps.catalogue
        return OpCatalogue(
            signatures: builtin.entries.map(\.signature),
            implementations: builtin.entries.compactMap(\.implementation) + [PublishOp(store: store, workspace: workspace)]
        )
    }
}
