public import BlacktailData
public import BlacktailNumerics

extension MultilayerPerceptron {
    /// Starts fine-tuning a trained network (transfer learning): its head (the last layer) is
    /// replaced by a fresh one of `outputs` outputs when `replaceHead` is true or when the base's
    /// outputs do not fit (another number, or values instead of probabilities), and
    /// ``frozenLayers`` of the first layers stay as they are during training.
    ///
    /// The new head's weights and the training's random stream come from ``seed``. The network
    /// keeps the base's activation; ``hidden`` and ``activation`` are not used.
    /// - Throws: ``DatasetError`` when the base takes other inputs, or when the frozen layers would
    ///   include the head.
    public func startFineTuning(
        from base: DenseNetwork, inputs: Int, outputs: Int, output: DenseNetwork.Output, replaceHead: Bool, file: String = ""
    ) throws(DatasetError) -> (DenseNetwork, TrainingState) {
        guard base.inputCount == inputs else {
            throw DatasetError(file: file, "the base model takes \(base.inputCount) features, the training set has \(inputs)")
        }
        guard frozenLayers >= 0, frozenLayers < base.layers.count else {
            throw DatasetError(
                file: file,
                "freezing \(frozenLayers) layers leaves nothing to train: the base model has \(base.layers.count) layers, the last being the head"
            )
        }
        var random = SeededRandom(seed: seed)
        var network = base
        network.output = output
        if replaceHead || base.outputCount != outputs || base.output != output {
            let head = base.layers.count - 1
            network.layers[head] = Self.freshLayer(inputs: base.layers[head].weights.rows, outputs: outputs, random: &random)
        }
        return (network, freshState(for: network, random: random))
    }
}
