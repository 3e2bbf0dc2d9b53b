/// Market models as inputs: a node per model version, which the steps that use it depend on.
extension PlanBuilder {
    mutating func marketModel(_ reference: String, at range: SourceRange, draft: inout NodeDraft) -> PlanNode.Argument? {
        switch marketModels[reference] {
        case .pinned(let pin):
            marketNodes[pin.nodeID] = pin
            draft.dependencies.insert(pin.nodeID)
            return .artifact(ArtifactReference(node: pin.nodeID, output: "model", type: .model))
        case .failed(let reason):
            diagnostics.error("market", "market.\(reference): \(reason)", at: range)
            return nil
        case nil:
            diagnostics.error("market", "market.\(reference) was not looked up in the market; plan the file with a blacktail command that reads the store", at: range)
            return nil
        }
    }

    /// The nodes that give the market models, by id.
    func marketDrafts() -> [NodeDraft] {
        marketNodes.keys.sorted().map { id in
            let pin = marketNodes[id]!
            var draft = NodeDraft(id: id, step: id, matrix: [], action: .op(name: MarketModels.op, version: 1))
            draft.arguments = [("model", .pinned(sha256: pin.sha256, type: .model, source: id))]
            draft.outputs = [PlanNode.Output(name: "model", type: .model, path: nil)]
            return draft
        }
    }
}
