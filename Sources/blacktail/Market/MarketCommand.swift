import ArgumentParser
import Engine
import Foundation
import PipelineLanguage

struct MarketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market",
        abstract: "Publish models to the local market, find them, and check and copy them out.",
        discussion: """
            A model is named NAME@VERSION or NAME@ALIAS; NAME alone means NAME@latest. Published \
            versions never change: a mistake is yanked, not deleted.
            """,
        subcommands: [Publish.self, List.self, Search.self, Show.self, Pull.self, Verify.self, Yank.self, Alias.self]
    )

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish a model: a step's output of a recorded run (with its lineage), or a checkpoint file.",
            discussion: "From a run: --run RUN --step train [--metrics-step evaluate]. From a file: --model FILE [--metrics FILE]; such a model has no lineage."
        )

        @Option(help: "The market name: lowercase letters, digits, '-' and '_'.")
        var name: String

        @Option(help: "A semantic version (default: the highest version's patch number raised, or 1.0.0).")
        var version: String?

        @Option(help: ArgumentHelp("The run whose output is published.", valueName: "run"))
        var run: String?

        @Option(help: ArgumentHelp("The step of --run that wrote the model (its output 'model').", valueName: "node"))
        var step: String?

        @Option(help: ArgumentHelp("The step of --run that evaluated it (its output 'metrics').", valueName: "node"))
        var metricsStep: String?

        @Option(help: ArgumentHelp("A checkpoint file to publish without lineage.", valueName: "file"))
        var model: String?

        @Option(help: ArgumentHelp("A metrics JSON file for the model card.", valueName: "file"))
        var metrics: String?

        @Option(help: "What the model does.")
        var description: String = ""

        @Option(help: "An SPDX licence identifier.")
        var license: String = "CC-BY-4.0"

        @Option(name: .customLong("tag"), help: "A search tag (repeat for several).")
        var tags: [String] = []

        @Option(help: "The price in BLACK tokens; 0 is free.")
        var price: Double = 0

        @Option(help: "The signing key (default: the home's default key).")
        var key: String?

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (workspace, store) = try home.open()
            var request = Publisher.Request(
                name: name, version: version, model: "", description: description, license: license, tags: tags, price: price, key: key
            )
            switch (run, model) {
            case (let runID?, nil):
                guard let step else { throw ValidationError("--run needs --step, the step that wrote the model") }
                guard let record = try await store.run(runID) else { throw CLIError("no run \(runID) in \(workspace.root)") }
                let tasks = try await store.tasks(runID: record.id)
                request.model = try Self.output(of: step, named: "model", in: tasks, workspace: workspace)
                if let metricsStep {
                    request.metrics = try Self.output(of: metricsStep, named: "metrics", in: tasks, workspace: workspace)
                }
                request.origin = .init(runID: record.id, modelNode: step, metricsNode: metricsStep)
            case (nil, let file?):
                request.model = file
                request.metrics = metrics
            default:
                throw ValidationError("give either --run RUN --step STEP, or --model FILE")
            }
            let (version, created) = try await Publisher(registry: store, store: store, workspace: workspace).publish(request)
            print(created ? "published \(version.reference)  id \(version.id)" : "\(version.reference) has this model and card already; nothing published")
        }

        static func output(of node: String, named name: String, in tasks: [TaskRecord], workspace: Workspace) throws -> String {
            guard let task = tasks.first(where: { $0.spec.nodeID == node }) else {
                throw CLIError("the run has no step \(node); its steps are \(tasks.map(\.spec.nodeID).joined(separator: ", "))")
            }
            guard let output = task.outputs.first(where: { $0.name == name }) else {
                throw CLIError("step \(node) has no output '\(name)' (it is \(task.snapshot.state.rawValue))")
            }
            return try workspace.artifacts.verifiedPath(output.digest)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the models: the latest version of each name.")

        @Flag(help: "Every version, yanked ones included.")
        var all = false

        @OptionGroup var home: HomeOptions

        func run() async throws {
            var query = MarketQuery()
            query.allVersions = all
            query.includeYanked = all
            MarketOutput.table(try await query.run(on: try home.open().1))
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find models by words, tag, task, framework, licence and metric.")

        @Argument(help: "Words to find in the name, description or tags.")
        var words: [String] = []

        @Option(name: .customLong("tag"), help: "A tag the model must have (repeat for several).")
        var tags: [String] = []

        @Option(help: "classification, regression, clustering, projection or reinforcement.")
        var task: String?

        @Option(help: "The framework (mlp, logistic, forest, ...).")
        var framework: String?

        @Option(help: "An SPDX licence identifier.")
        var license: String?

        @Option(name: .customLong("metric"), help: ArgumentHelp("A bound on a metric, such as accuracy>=0.95 (repeat for several).", valueName: "bound"))
        var metrics: [String] = []

        @Flag(help: "Every matching version, not only the newest of each name.")
        var allVersions = false

        @Flag(help: "Yanked versions too.")
        var yanked = false

        @OptionGroup var home: HomeOptions

        func run() async throws {
            var query = MarketQuery()
            query.words = words
            query.tags = tags
            query.task = task
            query.framework = framework
            query.license = license
            query.metrics = try metrics.map(MarketQuery.MetricFilter.init(parsing:))
            query.allVersions = allVersions
            query.includeYanked = yanked
            MarketOutput.table(try await query.run(on: try home.open().1))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a model's card, files, lineage, signature and aliases.")

        @Argument(help: "NAME, NAME@VERSION or NAME@ALIAS.")
        var model: String

        @Option(help: "text, or json (the manifest and the version's record).")
        var format: OutputFormat = .text

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (_, store) = try home.open()
            let version = try await store.resolve(try MarketReference(parsing: model))
            let manifest = try version.manifest()
            let aliases = try await store.aliases(name: version.name)
            switch format {
            case .json:
                let record: [String: JSONValue] = [
                    "id": .string(version.id),
                    "name": .string(version.name),
                    "version": .string(version.version),
                    "yanked": .bool(version.isYanked),
                    "yank_reason": JSONValue(version.yankReason),
                    "aliases": .array(aliases.filter { $0.version == version.version }.map { .string($0.alias) }),
                    "signature": .string(version.signature),
                    "public_key": .string(version.publicKey),
                    "manifest": .string(String(decoding: version.manifestBytes, as: UTF8.self)),
                ]
                print(JSONValue.object(record).prettyText, terminator: "")
            case .text:
                print(MarketOutput.card(version, manifest, aliases: aliases), terminator: "")
            }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a model out of the store with every digest checked: its files, manifest.json and manifest.sig."
        )

        @Argument(help: "NAME, NAME@VERSION or NAME@ALIAS.")
        var model: String

        @Option(help: ArgumentHelp("The folder to make (default: NAME-VERSION here).", valueName: "folder"))
        var to: String?

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (workspace, store) = try home.open()
            let version = try await store.resolve(try MarketReference(parsing: model))
            if version.isYanked { CompilerFrontend.writeError("warning: \(version.reference) is yanked: \(version.yankReason ?? "no reason given")\n") }
            let folder = to ?? "\(version.name)-\(version.version)"
            let files = try version.pull(from: workspace.artifacts, to: folder)
            print("pulled \(version.reference) to \(folder): " + (files.map(\.path) + ["manifest.json", "manifest.sig"]).joined(separator: ", "))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a model: its signature, every file's digest, and its lineage against the run's record.",
            discussion: "Checks a published version, or a folder made by 'market pull'. The exit status is 1 when any check fails."
        )

        @Argument(help: "NAME, NAME@VERSION, NAME@ALIAS, or a pulled folder.")
        var model: String

        @Option(help: ArgumentHelp("Require the signature to be by this key: a key name of this home, or a file from 'keys export'.", valueName: "key"))
        var key: String?

        @Option(help: "text or json.")
        var format: OutputFormat = .text

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (workspace, store) = try home.open()
            let trusted = try key.map { try Self.publicKey($0, workspace: workspace) }
            let verifier = Verifier(store: store, registry: store)
            let report: Verifier.Report
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: model, isDirectory: &isFolder), isFolder.boolValue {
                guard let bytes = FileManager.default.contents(atPath: "\(model)/manifest.json") else {
                    throw CLIError("\(model) has no manifest.json; is it a folder made by 'market pull'?")
                }
                guard let data = FileManager.default.contents(atPath: "\(model)/manifest.sig"),
                      let signature = try? JSONDecoder().decode(ManifestSignature.self, from: data) else {
                    throw CLIError("\(model)/manifest.sig is missing or is not a signature record")
                }
                report = await verifier.verify(manifestBytes: bytes, signature: signature, expected: nil, files: .folder(model), trustedKey: trusted)
            } else {
                let version = try await store.resolve(try MarketReference(parsing: model))
                report = await verifier.verify(
                    manifestBytes: version.manifestBytes, signature: version.signatureRecord,
                    expected: (version.name, version.version), files: .artifacts(workspace.artifacts), trustedKey: trusted
                )
            }
            switch format {
            case .text:
                for check in report.checks {
                    print("\(check.result.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(check.subject): \(check.message)")
                }
                print(report.passed ? "\(report.reference): verified" : "\(report.reference): \(report.failures.count) check\(report.failures.count == 1 ? "" : "s") failed")
            case .json:
                let object: JSONValue = [
                    "reference": .string(report.reference),
                    "passed": .bool(report.passed),
                    "checks": .array(report.checks.map { ["subject": .string($0.subject), "result": .string($0.result.rawValue), "message": .string($0.message)] }),
                ]
                print(object.prettyText, terminator: "")
            }
            if !report.passed { throw ExitCode.failure }
        }

        static func publicKey(_ text: String, workspace: Workspace) throws -> PublicSigningKey {
            if let data = FileManager.default.contents(atPath: text) {
                guard let object = try? JSONDecoder().decode([String: String].self, from: data), let base64 = object["public_key"] else {
                    throw CLIError("\(text) is not a key exported by 'blacktail keys export'")
                }
                return try PublicSigningKey(base64: base64)
            }
            return try KeyRing(folder: workspace.keysFolder).key(text).publicKey
        }
    }

    struct Yank: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw a version: it stays, readable by its exact number, but aliases and searches pass it by."
        )

        @Argument(help: "NAME@VERSION.")
        var model: String

        @Option(help: "Why, for those who pinned it.")
        var reason: String

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let reference = try MarketReference(parsing: model)
            guard case .version(let number) = reference.selector else {
                throw ValidationError("yank a version by its number: NAME@VERSION")
            }
            let (_, store) = try home.open()
            try await store.yank(name: reference.name, version: number, reason: reason, now: now())
            print("yanked \(reference)")
            for alias in try await store.aliases(name: reference.name) {
                print("  \(alias.alias) -> \(alias.version)")
            }
        }
    }

    struct Alias: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point an alias (production, staging, ...) at a version, or list a name's aliases and their moves."
        )

        @Argument(help: "The model's name.")
        var name: String

        @Argument(help: "The alias.")
        var alias: String?

        @Argument(help: "The version it points to from now on.")
        var version: String?

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let (_, store) = try home.open()
            try MarketNames.checkName(name)
            switch (alias, version) {
            case (let alias?, let version?):
                try MarketNames.checkAlias(alias)
                let move = try await store.moveAlias(name: name, alias: alias, to: version, reason: "alias", now: now())
                print("\(name)@\(alias): \(move.from ?? "(new)") -> \(move.to)")
            case (nil, nil):
                for alias in try await store.aliases(name: name) {
                    print("\(alias.alias) -> \(alias.version)  (\(RunSummary.timestamp(alias.movedAt)))")
                }
                let moves = try await store.aliasMoves(name: name)
                if !moves.isEmpty { print("\nmoves:") }
                for move in moves {
                    print("  \(RunSummary.timestamp(move.movedAt))  \(move.alias): \(move.from ?? "(new)") -> \(move.to)  (\(move.reason))")
                }
            default:
                throw ValidationError("give an alias and a version to move it, or neither to list them")
            }
        }
    }
}

/// How market commands print models.
enum MarketOutput {
    static func table(_ results: [(version: MarketVersion, manifest: ModelManifest)]) {
        guard !results.isEmpty else {
            print("no models")
            return
        }
        let rows = results.map { version, manifest -> [String] in
            let card = manifest.card
            let metric = card.metrics.keys.sorted().first { ["accuracy", "r2", "mean_return", "silhouette"].contains($0) }
                .map { "\($0) \(format(card.metrics[$0]!))" } ?? ""
            return [
                version.reference + (version.isYanked ? " (yanked)" : ""), card.task, card.framework, metric, card.license,
                card.price == 0 ? "free" : "\(format(card.price)) BLACK", card.tags.joined(separator: ","),
            ]
        }
        let header = ["MODEL", "TASK", "FRAMEWORK", "METRIC", "LICENCE", "PRICE", "TAGS"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    static func card(_ version: MarketVersion, _ manifest: ModelManifest, aliases: [MarketAlias]) -> String {
        let card = manifest.card
        var lines = ["\(version.reference)" + (version.isYanked ? "  YANKED: \(version.yankReason ?? "")" : "")]
        let pointing = aliases.filter { $0.version == version.version }.map(\.alias)
        if !pointing.isEmpty { lines.append("aliases      \(pointing.joined(separator: ", "))") }
        lines.append("id           \(version.id)")
        lines.append("published    \(manifest.publishedAt) by '\(manifest.publisher.keyName)' (\(manifest.publisher.fingerprint))")
        if !card.description.isEmpty { lines.append("description  \(card.description)") }
        lines.append("task         \(card.task), \(card.framework)" + (card.environment.map { " in \($0)" } ?? ""))
        lines.append("licence      \(card.license)")
        lines.append("price        \(card.price == 0 ? "free" : "\(format(card.price)) BLACK")")
        if !card.tags.isEmpty { lines.append("tags         \(card.tags.joined(separator: ", "))") }
        if !card.features.isEmpty {
            lines.append("input        \(card.features.count) features (\(card.features.map(\.name).joined(separator: ", ")))" + (card.preprocessing.map { ", \($0) scaling applied" } ?? ""))
        }
        if !card.classes.isEmpty { lines.append("classes      \(card.classes.joined(separator: ", "))") }
        if !card.metrics.isEmpty {
            let on = card.evaluation.map { " on \($0.dataset) (sha256 \($0.datasetSHA256.prefix(12))) by \($0.node)" } ?? ""
            lines.append("metrics\(on)")
            for name in card.metrics.keys.sorted() { lines.append("  \(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(format(card.metrics[name]!))") }
        }
        lines.append("files")
        for file in manifest.files { lines.append("  \(file.path.padding(toLength: 14, withPad: " ", startingAt: 0)) \(file.sha256)  \(file.size) bytes") }
        if let lineage = manifest.lineage {
            lines.append("lineage")
            lines.append("  run          \(lineage.run) of \(lineage.pipeline) (file sha256 \(lineage.pipelineFileSHA256.prefix(12)))")
            lines.append("  made by      \(lineage.node), plan key \(lineage.planKey.prefix(12))")
            lines.append("  params       \(lineage.params)")
            lines.append("  seeds        " + lineage.seeds.keys.sorted().map { "\($0)=\(lineage.seeds[$0]!)" }.joined(separator: " "))
            for input in lineage.inputs {
                lines.append("  input        \(input.node).\(input.argument) <- \(input.source) (\(input.type), sha256 \(input.sha256.prefix(12)))")
            }
            if let parent = lineage.parentSHA256 { lines.append("  parent       \(lineage.parentModel ?? "a checkpoint") (sha256 \(parent.prefix(12)))") }
            lines.append("  built with   blacktail \(lineage.blacktailVersion) on \(lineage.host), \(lineage.platform)")
        } else {
            lines.append("lineage      none: published from a file")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.4g", value)
    }
}
