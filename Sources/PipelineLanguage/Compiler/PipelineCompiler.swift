import Crypto
import Foundation

/// Compiles pipeline files into validated plans.
///
/// ```swift
/// let compiler = PipelineCompiler(signatures: BuiltinOps.signatures)
/// let compilation = compiler.compile(path: "pipelines/iris.yaml", parameters: [("lr", "0.01")])
/// if let plan = compilation.plan { ... } else { print(DiagnosticRenderer.text(compilation.diagnostics, in: compilation.source)) }
/// ```
///
/// Compilation reads the file and nothing else; it never throws: every problem, in the file or in
/// the parameters given, is a ``Diagnostic``.
public struct PipelineCompiler: Sendable {
    /// Bounds that keep a plan a plan: a typo in a matrix must not produce a million tasks.
    public struct Limits: Sendable {
        /// The most instances one step's matrix may expand to.
        public var maximumMatrixInstances = 256
        /// The most nodes a plan may have.
        public var maximumNodes = 1_000_000

        public init() {}
    }

    public var signatures: OpSignatureSet
    public var loader = YAMLLoader()
    public var limits = Limits()
    /// The market references of the file (``MarketModels/references(in:)``), resolved by the
    /// caller; a reference missing here is an error.
    public var marketModels: [String: MarketModels.Resolution] = [:]

    public init(signatures: OpSignatureSet) {
        self.signatures = signatures
    }

    /// Reads and compiles the file at `path`; a file that cannot be read is an error diagnostic.
    public func compile(path: String, parameters: [(name: String, value: String)] = []) -> Compilation {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(path: path, .error("unreadable-file", "no such file", at: nil))
        }
        guard !isDirectory.boolValue else {
            return .failure(path: path, .error("unreadable-file", "this is a folder, not a pipeline file", at: nil))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(path: path, .error("unreadable-file", "the file cannot be read (check its permissions)", at: nil))
        }
        switch YAMLLoader.decode(path: path, bytes: Array(data)) {
        case .success(let source): return compile(source, parameters: parameters)
        case .failure(let diagnostic): return .failure(path: path, diagnostic)
        }
    }

    /// Compiles source text with parameter values given as text (`-p lr=0.01`).
    public func compile(_ source: SourceFile, parameters: [(name: String, value: String)] = []) -> Compilation {
        var diagnostics = DiagnosticCollector()
        guard let root = loader.load(source, diagnostics: &diagnostics) else {
            return Compilation(source: source, diagnostics: diagnostics.sorted, plan: nil)
        }
        var decoder = PipelineDecoder(diagnostics: diagnostics)
        let definition = decoder.decode(root)
        diagnostics = decoder.diagnostics
        guard let definition else {
            return Compilation(source: source, diagnostics: diagnostics.sorted, plan: nil)
        }
        var builder = PlanBuilder(
            definition: definition,
            source: source,
            signatures: signatures,
            limits: limits,
            marketModels: marketModels,
            diagnostics: diagnostics
        )
        let plan = builder.build(overrides: parameters, fileDigest: Self.sha256(source.bytes))
        let sorted = builder.diagnostics.sorted
        let hasErrors = sorted.contains { $0.severity == .error }
        return Compilation(source: source, diagnostics: sorted, plan: hasErrors ? nil : plan)
    }

    /// The SHA-256 of `bytes` in lowercase hexadecimal.
    static func sha256(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}

/// The outcome of compiling one file: the diagnostics, and the plan when there were no errors.
public struct Compilation: Sendable {
    public let source: SourceFile
    public let diagnostics: [Diagnostic]
    public let plan: Plan?

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    static func failure(path: String, _ diagnostic: Diagnostic) -> Compilation {
        Compilation(source: SourceFile(path: path, text: ""), diagnostics: [diagnostic], plan: nil)
    }
}
