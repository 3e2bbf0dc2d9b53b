import ArgumentParser
import BlacktailOps
import Engine
import Foundation
import PipelineLanguage

/// Where the workspace is: `--home`, else `BLACKTAIL_HOME`, else `.blacktail` here.
struct HomeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The workspace folder (default: $BLACKTAIL_HOME, else ./.blacktail).", valueName: "folder"))
    var home: String?

    var workspace: Workspace { Workspace(home: home) }

    /// The workspace, created if needed, and its store.
    func open() throws -> (Workspace, SQLiteStore) {
        let workspace = workspace
        do {
            try workspace.create()
            return (workspace, try SQLiteStore(path: workspace.storePath))
        } catch {
            throw CLIError("\(error)")
        }
    }
}

/// How a run is submitted.
struct SubmitOptions: ParsableArguments {
    @Option(help: "Runs with a higher priority are served first.")
    var priority: Int = 0

    @Flag(help: "Run every step, reusing no earlier outputs.")
    var noCache = false

    @Flag(help: "Cancel the whole run at the first failed step (by default independent branches go on).")
    var failFast = false

    @Option(help: ArgumentHelp("A key that makes submitting the same run again return the first run.", valueName: "key"))
    var idempotencyKey: String?

    var options: Submitter.Options {
        Submitter.Options(priority: priority, idempotencyKey: idempotencyKey, failFast: failFast, noCache: noCache)
    }
}

/// What a worker offers.
struct WorkerOptions: ParsableArguments {
    @Option(help: "Tasks at once (default: the CPU count).")
    var concurrency: Int?

    @Option(help: "CPU slots to offer (default: the CPU count).")
    var cpus: Double?

    @Option(help: ArgumentHelp("Memory to offer, such as 8GiB (default: the machine's).", valueName: "size"))
    var memory: String?

    @Option(help: ArgumentHelp("GPUs: auto (ask nvidia-smi), none, or indices such as 0,1.", valueName: "auto|none|list"))
    var gpus: String = "auto"

    @Option(help: ArgumentHelp("Labels this worker carries, comma-separated.", valueName: "labels"))
    var labels: String = ""

    @Option(help: ArgumentHelp("How long a claim lasts without a heartbeat, in seconds.", valueName: "seconds"))
    var lease: Double = 30

    func configuration() throws -> Worker.Configuration {
        let processors = ProcessInfo.processInfo.activeProcessorCount
        var memoryBytes = Int64(ProcessInfo.processInfo.physicalMemory)
        if let memory {
            guard let parsed = MemoryQuantity.parse(memory) else {
                throw ValidationError("--memory \(memory): write a size such as 512MiB or 8GiB")
            }
            memoryBytes = parsed
        }
        var configuration = Worker.Configuration(
            concurrency: concurrency ?? processors,
            cpu: cpus ?? Double(processors),
            memoryBytes: memoryBytes,
            gpus: try GPUDetection.gpus(gpus),
            labels: labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        )
        guard lease >= 1 else { throw ValidationError("--lease must be at least 1 second") }
        configuration.leaseSeconds = lease
        return configuration
    }
}

/// Sizes such as `512MiB`, `8GiB`, `1.5GB`, or plain bytes.
enum MemoryQuantity {
    static func parse(_ text: String) -> Int64? {
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number >= 0 else { return nil }
            return Int64(number * factor)
        }
        return Int64(text)
    }
}

/// The GPUs a worker offers.
enum GPUDetection {
    static func gpus(_ option: String) throws -> [String] {
        switch option {
        case "none": return []
        case "auto": return detect()
        default:
            let indices = option.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !indices.isEmpty, indices.allSatisfy({ Int($0) != nil }) else {
                throw ValidationError("--gpus \(option): write auto, none, or indices such as 0,1")
            }
            return indices
        }
    }

    /// The indices nvidia-smi lists; none where it is not installed or finds no GPU.
    static func detect() -> [String] {
        let candidates = ["/usr/bin/nvidia-smi", "/usr/local/bin/nvidia-smi"]
        guard let tool = candidates.first(where: FileManager.default.isExecutableFile) else { return [] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--query-gpu=index", "--format=csv,noheader"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { Int($0) != nil }
    }
}

/// A failure to report in one line and exit with status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension CompilerFrontend {
    /// Compiles a file for running, with its market models looked up in `registry`: diagnostics
    /// to standard error, and a clear failure on errors.
    static func plan(_ file: String, parameters: ParameterOptions, registry: (any MarketRegistry)?) async throws -> Plan {
        let compilation = await compile(file, parameters: try parameters.parsed(), registry: registry)
        guard let plan = compilation.plan, !compilation.hasErrors else { throw ExitCode.failure }
        return plan
    }

    /// The market models a file names, each pinned to a version and its model's digest, or why
    /// it cannot be. A yanked version named by its number is used, with a warning.
    static func marketModels(of file: String, registry: (any MarketRegistry)?) async -> [String: MarketModels.Resolution] {
        guard let data = FileManager.default.contents(atPath: file) else { return [:] }
        var resolutions: [String: MarketModels.Resolution] = [:]
        for text in MarketModels.references(in: String(decoding: data, as: UTF8.self)) {
            guard let registry else {
                resolutions[text] = .failed("there is no store here to look it up in (give --home, or set BLACKTAIL_HOME)")
                continue
            }
            do {
                let version = try await registry.resolve(try MarketReference(parsing: text))
                guard let model = try version.manifest().modelFile else {
                    throw EngineError("\(version.reference) lists no model file")
                }
                if version.isYanked {
                    writeError("warning: \(version.reference) is yanked (\(version.yankReason ?? "no reason given")); it is used because the pipeline names its exact version\n")
                }
                resolutions[text] = .pinned(.init(reference: version.reference, sha256: model.sha256))
            } catch {
                resolutions[text] = .failed("\(error)")
            }
        }
        return resolutions
    }

    /// The store of the default home when it has one, for commands that take no --home.
    static func defaultRegistry(home: String? = nil) -> SQLiteStore? {
        let workspace = Workspace(home: home)
        guard FileManager.default.fileExists(atPath: workspace.storePath) else { return nil }
        return try? SQLiteStore(path: workspace.storePath)
    }

    static func submission(_ file: String, plan: Plan, options: Submitter.Options) -> Submission {
        Submitter.submission(
            plan: plan,
            pipelinePath: file,
            projectDirectory: FileManager.default.currentDirectoryPath,
            signatures: BuiltinOps.catalogue.signatures,
            options: options
        )
    }
}

func now() -> Double { Date().timeIntervalSince1970 }
