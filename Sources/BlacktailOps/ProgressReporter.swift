/// One report of how far an op has come.
public struct ProgressUpdate: Sendable, Hashable {
    /// Work done so far, from 0 to 1, when the op can tell.
    public var fraction: Double?
    /// The epoch just finished, for training ops.
    public var epoch: Int?
    public var totalEpochs: Int?
    /// Named numbers (loss, validation accuracy, samples/s).
    public var metrics: [String: Double]
    public var message: String?

    public init(fraction: Double? = nil, epoch: Int? = nil, totalEpochs: Int? = nil, metrics: [String: Double] = [:], message: String? = nil) {
        self.fraction = fraction
        self.epoch = epoch
        self.totalEpochs = totalEpochs
        self.metrics = metrics
        self.message = message
    }
}

/// Where an op sends progress; the engine records it and shows it to whoever watches the run.
public struct ProgressReporter: Sendable {
    private let sink: @Sendable (ProgressUpdate) -> Void

    public init(_ sink: @escaping @Sendable (ProgressUpdate) -> Void) {
        self.sink = sink
    }

    public func report(_ update: ProgressUpdate) {
        sink(update)
    }
}
