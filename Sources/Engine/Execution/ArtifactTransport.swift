/// Moves a worker's files when its artifact store is not the queue's: an agent of a cluster
/// fetches a task's inputs from the coordinator before the attempt, and sends its outputs and
/// logs back after it. On one machine there is none: the worker and the store share a home.
public protocol ArtifactTransport: Sendable {
    /// Makes every file the task reads present, and checked, in the worker's artifact store.
    func fetchInputs(of task: ClaimedTask) async throws

    /// Sends what the attempt made (its outputs, when it succeeded without a cache hit, and its
    /// log files) to where the queue keeps them, before the attempt is reported.
    func sendResults(of completion: Completion, task: ClaimedTask) async throws
}
