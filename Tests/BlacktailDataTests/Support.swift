import BlacktailOps
import Foundation
import Logging
import PipelineLanguage
import Testing

/// A folder of its own for each test, removed afterwards.
final class Scratch {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes text to a file in the folder and returns its path.
    func file(_ name: String, _ text: String) throws -> String {
        let path = path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func datasetPath(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("datasets/\(name)").path
}

/// Runs python3 with a script and arguments; returns its exit status and output.
func python(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Runs a built-in op as the engine will: defaults filled in as the compiler fills them, outputs
/// written to `prefix-NAME.EXTENSION` in the scratch folder. Returns the output paths by name.
func runOp(
    _ name: String,
    _ arguments: [String: OpContext.Argument],
    outputs: [String: String],
    in scratch: Scratch,
    prefix: String
) async throws -> [String: String] {
    let entry = try #require(BuiltinOps.catalogue.entry(name))
    let op = try #require(entry.implementation)
    var resolved = arguments
    for argument in entry.signature.arguments where resolved[argument.name] == nil {
        if case .defaultValue(let value) = argument.presence { resolved[argument.name] = .value(value) }
    }
    let paths = Dictionary(uniqueKeysWithValues: outputs.map { ($0.key, scratch.path("\(prefix)-\($0.key).\($0.value)")) })
    let context = OpContext(
        nodeID: prefix, opName: name, arguments: resolved, outputPaths: paths,
        scratchDirectory: scratch.url.path, logger: Logger(label: "test"), seed: 0, threadBudget: 1
    )
    try await op.run(context)
    return paths
}
