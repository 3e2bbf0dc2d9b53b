import Foundation
import PipelineLanguage

/// `market/model`: the pinned model file, given on as the node's output. The engine checked its
/// digest when it resolved the input.
struct MarketModelOp: Op {
    let signature = BuiltinOps.signature(MarketModels.op)

    func run(_ context: OpContext) async throws {
        let input = try context.inputPath("model")
        let output = try context.outputPath("model")
        do {
            try FileManager.default.copyItem(atPath: input, toPath: output)
        } catch {
            throw OpError("\(MarketModels.op) at \(context.nodeID): cannot copy \(input): \(error.localizedDescription)")
        }
    }
}
