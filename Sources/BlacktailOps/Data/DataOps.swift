import BlacktailData
import Foundation
import HDF5
public import PipelineLanguage

/// What the data ops share: reading inputs, writing outputs with their provenance, and turning
/// dataset errors into op errors.
enum DataOpSupport {
    static func read(_ context: OpContext, _ argument: String) throws -> (dataset: Dataset, path: String) {
        let path = try context.inputPath(argument)
        return (try DatasetFile.read(path), path)
    }

    /// The dataset given as an optional input, or nil when the step left it out.
    static func readOptional(_ context: OpContext, _ argument: String) throws -> (dataset: Dataset, path: String)? {
        guard case .path(let path)? = context.arguments[argument] else { return nil }
        return (try DatasetFile.read(path), path)
    }

    /// Writes `dataset` to the output, recording that `op` made it from the file at `sourcePath`.
    static func write(_ dataset: Dataset, to output: String, _ context: OpContext, from sourcePath: String?) throws {
        try write(dataset, to: output, context, sourceSHA256: try sourcePath.map(DatasetFile.sha256(ofFile:)) ?? "")
    }

    /// Writes `dataset` to the output, recording that `op` made it from a file of that digest; for
    /// ops that write several outputs from one input, which is then hashed once.
    static func write(_ dataset: Dataset, to output: String, _ context: OpContext, sourceSHA256: String) throws {
        var dataset = dataset
        dataset.provenance = Dataset.Provenance(
            sourceSHA256: sourceSHA256,
            source: dataset.provenance.source,
            createdBy: "\(context.opName)@\(BuiltinOps.signature(context.opName).version)"
        )
        try DatasetFile.write(dataset, to: try context.outputPath(output))
    }

    /// A dataset with the same columns and no rows.
    static func empty(like dataset: Dataset) -> Dataset {
        dataset.rows([])
    }

    static func seed(_ context: OpContext) throws -> UInt64 {
        UInt64(bitPattern: Int64(try context.int("seed")))
    }
}

struct ImportCSVOp: Op {
    let signature = BuiltinOps.signature("data/import-csv")

    func run(_ context: OpContext) async throws {
        var importer = CSVImporter(label: context.optionalValue("label").flatMap { if case .string(let label) = $0 { label } else { nil } })
        guard let task = CSVImporter.TaskChoice(rawValue: try context.string("task")) else {
            throw OpError("data/import-csv: unknown task '\(try context.string("task"))'")
        }
        importer.task = task
        guard let missing = CSVImporter.MissingPolicy(rawValue: try context.string("missing")) else {
            throw OpError("data/import-csv: unknown missing-value policy '\(try context.string("missing"))'")
        }
        importer.missing = missing
        let delimiter = Array(try context.string("delimiter").utf8)
        guard delimiter.count == 1 else { throw OpError("data/import-csv: the delimiter is one character, not '\(try context.string("delimiter"))'") }
        importer.separator = delimiter[0]
        importer.scratchDirectory = context.scratchDirectory
        importer.createdBy = "data/import-csv@\(signature.version)"
        let summary = try importer.run(csv: try context.string("path"), to: try context.outputPath("dataset")) { rows in
            context.progress.report(ProgressUpdate(metrics: ["rows": Double(rows)]))
        }
        context.logger.info(
            "imported \(summary.rows) rows",
            metadata: ["task": "\(summary.task.rawValue)", "classes": "\(summary.classes.count)", "dropped": "\(summary.droppedRows)", "imputed": "\(summary.imputedValues)"]
        )
    }
}

struct SplitOp: Op {
    let signature = BuiltinOps.signature("data/split")

    func run(_ context: OpContext) async throws {
        let (dataset, path) = try DataOpSupport.read(context, "input")
        let split = DatasetSplit(
            train: try context.double("train"), validation: try context.double("validation"), test: try context.double("test"),
            stratify: try context.bool("stratify"), seed: try DataOpSupport.seed(context)
        )
        let parts = try split.indices(for: dataset, file: path)
        let digest = try DatasetFile.sha256(ofFile: path)
        for (name, rows) in [("train", parts.train), ("validation", parts.validation), ("test", parts.test)] {
            try context.checkCancellation()
            try DataOpSupport.write(dataset.rows(rows), to: name, context, sourceSHA256: digest)
        }
    }
}

struct NormalizeOp: Op {
    let signature = BuiltinOps.signature("data/normalize")

    func run(_ context: OpContext) async throws {
        let (train, trainPath) = try DataOpSupport.read(context, "train")
        guard let method = Scaler.Method(rawValue: try context.string("method")) else {
            throw OpError("data/normalize: unknown method '\(try context.string("method"))'")
        }
        let scaler = Scaler(fitting: train, method: method)
        try DataOpSupport.write(try scaler.apply(to: train, file: trainPath), to: "train", context, from: trainPath)
        for part in ["validation", "test"] {
            if let (dataset, path) = try DataOpSupport.readOptional(context, part) {
                try DataOpSupport.write(try scaler.apply(to: dataset, file: path), to: part, context, from: path)
            } else {
                try DataOpSupport.write(DataOpSupport.empty(like: train), to: part, context, from: nil)
            }
        }
        try CheckpointFile.writePreprocessing(scaler, to: try context.outputPath("scaler"), createdBy: "data/normalize@\(signature.version)")
    }
}

struct GenerateOp: Op {
    let signature = BuiltinOps.signature("data/generate")

    func run(_ context: OpContext) async throws {
        guard let kind = DatasetGenerator.Kind(rawValue: try context.string("kind")) else {
            throw OpError("data/generate: unknown kind '\(try context.string("kind"))'")
        }
        let generator = DatasetGenerator(
            kind: kind, rows: try context.int("rows"), features: try context.int("features"),
            classes: try context.int("classes"), noise: try context.double("noise"), seed: try DataOpSupport.seed(context)
        )
        let output = try context.outputPath("dataset")
        let writer = try DatasetWriter(path: output, featureNames: generator.featureNames)
        do {
            try generator.generate { (features: [Float], targets: Dataset.Targets) throws(DatasetError) in
                switch targets {
                case .classes(let ids): try writer.append(features: features, classIDs: ids)
                case .values(let values): try writer.append(features: features, values: values)
                }
            }
            var provenance = generator.provenance
            provenance.createdBy = "data/generate@\(signature.version)"
            try writer.finish(task: generator.task, classes: generator.classNames, provenance: provenance)
        } catch {
            writer.abandon()
            try? FileManager.default.removeItem(atPath: output)
            throw error
        }
    }
}

struct SampleOp: Op {
    let signature = BuiltinOps.signature("data/sample")

    func run(_ context: OpContext) async throws {
        let (dataset, path) = try DataOpSupport.read(context, "input")
        let count: Int
        switch (context.optionalValue("rows"), context.optionalValue("fraction")) {
        case (.int(let rows)?, nil): count = min(rows, dataset.rowCount)
        case (nil, .float(let fraction)?): count = Int((fraction * Double(dataset.rowCount)).rounded())
        case (nil, .int(let fraction)?): count = fraction * dataset.rowCount
        default: throw OpError("data/sample: give either 'rows' or 'fraction'")
        }
        var random = SeededRandom(seed: try DataOpSupport.seed(context))
        var order = Array(0..<dataset.rowCount)
        random.shuffle(&order)
        try DataOpSupport.write(dataset.rows(order.prefix(count).sorted()), to: "dataset", context, from: path)
    }
}

struct ShuffleOp: Op {
    let signature = BuiltinOps.signature("data/shuffle")

    func run(_ context: OpContext) async throws {
        let (dataset, path) = try DataOpSupport.read(context, "input")
        var random = SeededRandom(seed: try DataOpSupport.seed(context))
        var order = Array(0..<dataset.rowCount)
        random.shuffle(&order)
        try DataOpSupport.write(dataset.rows(order), to: "dataset", context, from: path)
    }
}

struct SelectFeaturesOp: Op {
    let signature = BuiltinOps.signature("data/select-features")

    func run(_ context: OpContext) async throws {
        let (dataset, path) = try DataOpSupport.read(context, "input")
        guard case .value(.list(let items))? = context.arguments["features"] else {
            throw OpError("data/select-features: 'features' is a list of feature names")
        }
        let names = items.compactMap { if case .string(let name) = $0 { name } else { nil } }
        for name in names where !dataset.featureNames.contains(name) {
            throw OpError("data/select-features: \(path) has no feature '\(name)'; its features are \(dataset.featureNames.joined(separator: ", "))")
        }
        let keep = try context.string("mode") == "keep"
        let columns = keep ? names.map { dataset.featureNames.firstIndex(of: $0)! } : dataset.featureNames.indices.filter { !names.contains(dataset.featureNames[$0]) }
        var selected = dataset
        selected.featureNames = columns.map { dataset.featureNames[$0] }
        selected.features = []
        selected.features.reserveCapacity(dataset.rowCount * columns.count)
        for row in 0..<dataset.rowCount {
            let base = row * dataset.featureCount
            for column in columns { selected.features.append(dataset.features[base + column]) }
        }
        try DataOpSupport.write(selected, to: "dataset", context, from: path)
    }
}

struct MaskLabelsOp: Op {
    let signature = BuiltinOps.signature("data/mask-labels")

    func run(_ context: OpContext) async throws {
        let (dataset, path) = try DataOpSupport.read(context, "input")
        guard dataset.task == .classification, var ids = dataset.classIDs else {
            throw OpError("data/mask-labels: \(path) is \(dataset.task.rawValue) data; only class labels can be masked")
        }
        let labelled = try context.double("labelled")
        // The rows that keep their label are a stratified sample, so every class keeps its share.
        let kept = try DatasetSplit(train: labelled, validation: 0, test: 1 - labelled, stratify: true, seed: try DataOpSupport.seed(context))
            .indices(for: dataset, file: path).train
        var keep = [Bool](repeating: false, count: ids.count)
        for row in kept { keep[row] = true }
        for row in ids.indices where !keep[row] { ids[row] = -1 }
        var masked = dataset
        masked.targets = .classes(ids)
        try DataOpSupport.write(masked, to: "dataset", context, from: path)
        context.logger.info("\(ids.count { $0 >= 0 }) of \(ids.count) rows keep their label")
    }
}

struct SelectClassesOp: Op {
    let signature = BuiltinOps.signature("data/select-classes")

    func run(_ context: OpContext) async throws {
        let (dataset, path) = try DataOpSupport.read(context, "input")
        guard dataset.task == .classification, let ids = dataset.classIDs else {
            throw OpError("data/select-classes: \(path) is \(dataset.task.rawValue) data, not classification")
        }
        guard case .list(let items)? = context.optionalValue("classes") else { throw OpError("data/select-classes: 'classes' is a list of class names") }
        let names = items.map(\.interpolated)
        guard !names.isEmpty else { throw OpError("data/select-classes: 'classes' is empty; name at least one class to keep") }
        var newID: [Int64: Int64] = [:]
        for (index, name) in names.enumerated() {
            guard let old = dataset.classes.firstIndex(of: name) else {
                throw OpError("data/select-classes: \(path) has no class '\(name)'; its classes are \(dataset.classes.joined(separator: ", "))")
            }
            guard newID[Int64(old)] == nil else { throw OpError("data/select-classes: '\(name)' is named twice") }
            newID[Int64(old)] = Int64(index)
        }
        let rows = ids.indices.filter { newID[ids[$0]] != nil }
        var selected = dataset.rows(rows)
        selected.classes = names
        selected.targets = .classes(rows.map { newID[ids[$0]]! })
        try DataOpSupport.write(selected, to: "dataset", context, from: path)
        context.logger.info("\(rows.count) of \(ids.count) rows are of the classes kept")
    }
}
