public import Logging
public import PipelineLanguage

/// A built-in operation that a pipeline step runs with `uses: namespace/op`.
///
/// An op declares its ``OpSignature`` (the compiler checks every `uses:` step against it) and does
/// its work in ``run(_:)`` with what the engine gives it in an ``OpContext``. An op must be
/// deterministic for a given context: the same arguments, inputs, seed and thread budget give the
/// same output bytes, because plan keys and reproduction rely on it.
public protocol Op: Sendable {
    var signature: OpSignature { get }

    /// Does the op's work, reading inputs from and writing every declared output to the paths in
    /// the context.
    ///
    /// - Throws: ``OpError`` for a failure the user can act on (bad data, a failed gate), or
    ///   `CancellationError` once the context reports cancellation.
    func run(_ context: OpContext) async throws
}

/// Everything an op gets from the engine for one run of one plan node.
public struct OpContext: Sendable {
    /// An argument after the engine resolved it: a value, or the path(s) of input artifacts.
    public enum Argument: Sendable, Hashable {
        case value(Value)
        case path(String)
        case paths([String])
    }

    /// The run the node belongs to; empty when an op runs outside the engine.
    public var runID: String
    /// The plan node being run (`train[2]`), for messages.
    public var nodeID: String
    public var opName: String
    public var arguments: [String: Argument]
    /// Where each declared output must be written; the engine moves them into the store afterwards.
    public var outputPaths: [String: String]
    /// A folder for the op's scratch files. It does not exist until the op makes it (most ops
    /// need none), and the engine removes it after the run.
    public var scratchDirectory: String
    public var logger: Logger
    public var progress: ProgressReporter
    /// The seed for every random choice the op makes, derived by the engine from the node's key.
    public var seed: UInt64
    /// How many threads the op may use (BLAS included), from the step's `resources.cpu`.
    public var threadBudget: Int
    /// Whether the run asked for bit-for-bit repeatable results. The built-in ops are repeatable
    /// for a given seed and thread budget either way; an op with a faster path that is not (a
    /// reduction whose order depends on timing) may take it only when this is false.
    public var deterministic: Bool

    public init(
        runID: String = "",
        nodeID: String,
        opName: String,
        arguments: [String: Argument],
        outputPaths: [String: String],
        scratchDirectory: String,
        logger: Logger,
        progress: ProgressReporter = ProgressReporter { _ in },
        seed: UInt64,
        threadBudget: Int,
        deterministic: Bool = true
    ) {
        self.runID = runID
        self.nodeID = nodeID
        self.opName = opName
        self.arguments = arguments
        self.outputPaths = outputPaths
        self.scratchDirectory = scratchDirectory
        self.logger = logger
        self.progress = progress
        self.seed = seed
        self.threadBudget = max(1, threadBudget)
        self.deterministic = deterministic
    }

    /// Throws `CancellationError` when the run was cancelled; long loops call it between units of work.
    public func checkCancellation() throws {
        try Task.checkCancellation()
    }

    // MARK: Typed access to arguments

    public func int(_ name: String) throws(OpError) -> Int {
        guard case .value(.int(let value)) = try argument(name) else { throw mistyped(name, "an int") }
        return value
    }

    public func double(_ name: String) throws(OpError) -> Double {
        switch try argument(name) {
        case .value(.float(let value)): return value
        case .value(.int(let value)): return Double(value)
        default: throw mistyped(name, "a number")
        }
    }

    public func string(_ name: String) throws(OpError) -> String {
        guard case .value(.string(let value)) = try argument(name) else { throw mistyped(name, "a string") }
        return value
    }

    public func bool(_ name: String) throws(OpError) -> Bool {
        guard case .value(.bool(let value)) = try argument(name) else { throw mistyped(name, "a bool") }
        return value
    }

    /// The value of an optional argument, or nil when the step did not give it.
    public func optionalValue(_ name: String) -> Value? {
        if case .value(let value)? = arguments[name], value != .null { return value }
        return nil
    }

    /// The path of a single input artifact.
    public func inputPath(_ name: String) throws(OpError) -> String {
        guard case .path(let path) = try argument(name) else { throw mistyped(name, "one input artifact") }
        return path
    }

    /// The paths of a list of input artifacts (a single one is a list of one).
    public func inputPaths(_ name: String) throws(OpError) -> [String] {
        switch try argument(name) {
        case .paths(let paths): return paths
        case .path(let path): return [path]
        default: throw mistyped(name, "input artifacts")
        }
    }

    /// Where to write a declared output.
    public func outputPath(_ name: String) throws(OpError) -> String {
        guard let path = outputPaths[name] else {
            throw OpError("\(opName) at \(nodeID): the engine gave no path for output '\(name)'")
        }
        return path
    }

    private func argument(_ name: String) throws(OpError) -> Argument {
        guard let argument = arguments[name] else {
            throw OpError("\(opName) at \(nodeID): argument '\(name)' was not given")
        }
        return argument
    }

    private func mistyped(_ name: String, _ expected: String) -> OpError {
        OpError("\(opName) at \(nodeID): argument '\(name)' should be \(expected)")
    }
}

/// A failure an op reports to the user: what went wrong and, where it helps, what to do.
public struct OpError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
