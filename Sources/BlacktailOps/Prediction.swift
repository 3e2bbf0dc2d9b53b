public import BlacktailData
import Foundation
import Frameworks
import HDF5
public import BlacktailNumerics

/// A trained model's predictions on rows of data: what `model/predict` does, for callers outside a
/// pipeline too.
///
/// The input is a dataset file (docs/formats.md §2) or a CSV file with a header row; the model's
/// saved preprocessing is applied to it before the model sees it, so the rows are raw, as imported.
public enum Prediction {
    /// The kinds of file ``predict(checkpoint:input:format:threads:)`` reads.
    public enum InputFormat: String, Sendable, CaseIterable {
        /// A Blacktail dataset file, whose `feature_names` must be the model's, in the model's order.
        case hdf5
        /// A CSV file with a header row; the model's features are found among its columns by name.
        case csv
    }

    /// The format of the file at `path`: HDF5 when it starts with HDF5's signature or is named
    /// `.h5`, `.hdf5` or `.hdf`, CSV otherwise.
    public static func inputFormat(of path: String) -> InputFormat {
        if let handle = FileHandle(forReadingAtPath: path) {
            defer { try? handle.close() }
            if let start = try? handle.read(upToCount: HDF5File.signature.count), Array(start) == HDF5File.signature { return .hdf5 }
        }
        let suffix = (path as NSString).pathExtension.lowercased()
        return ["h5", "hdf5", "hdf"].contains(suffix) ? .hdf5 : .csv
    }

    /// Runs the model in `checkpoint` on the rows of `input`, a dataset or CSV file (told apart by
    /// ``inputFormat(of:)``), with products on `threads` BLAS threads.
    /// - Throws: the checkpoint's read errors; ``OpError`` for a reinforcement-learning model or a
    ///   model that neither classifies, regresses, clusters nor projects; ``DatasetError`` naming
    ///   the file and place for an unreadable input, features that are not the model's, or (CSV) a
    ///   missing feature column or a cell that is not a number.
    public static func predict(checkpoint: String, input: String, threads: Int) throws -> PredictionResult {
        try predict(checkpoint: checkpoint, input: input, format: inputFormat(of: input), threads: threads)
    }

    /// Runs the model in `checkpoint` on the rows of `input`, read as `format`.
    /// - Throws: as ``predict(checkpoint:input:threads:)``.
    public static func predict(checkpoint: String, input: String, format: InputFormat, threads: Int) throws -> PredictionResult {
        BLAS.setThreadCount(threads)
        let (trained, info, _) = try Checkpoint.read(checkpoint)
        // Before the data is checked against the model's features, which an agent has none of.
        if info.task == .reinforcement { throw actsInAnEnvironment(checkpoint) }
        let data = switch format {
        case .hdf5: try DatasetFile.read(input)
        case .csv: try CSVImporter().features(csv: input, named: info.featureNames)
        }
        var result = try predict(trained, info: info, checkpoint: checkpoint, on: data, file: input)
        result.predictions.provenance = Dataset.Provenance(
            sourceSHA256: try DatasetFile.sha256(ofFile: input),
            source: data.provenance.source,
            createdBy: "model/predict@\(BuiltinOps.signature("model/predict").version)"
        )
        return result
    }

    static func actsInAnEnvironment(_ checkpoint: String) -> OpError {
        OpError(
            "model/predict: \(checkpoint) is a reinforcement-learning model, which acts in an environment rather than on data; evaluate it with eval/rl"
        )
    }

    /// The model's predictions on `data`, raw rows read from `file`, scaled here by the model's
    /// saved preprocessing.
    static func predict(_ trained: TrainedModel, info: ModelInfo, checkpoint: String, on data: Dataset, file: String) throws -> PredictionResult {
        let inputs = try modelInputs(data, for: info, applyingPreprocessing: true, file: file)
        var predictions = data
        predictions.classes = info.classes
        predictions.targetName = info.targetName
        switch trained {
        case .network, .trees, .labelPropagation, .voting:
            guard let model = trained.supervised else {
                throw OpError("model/predict: \(checkpoint) is not a classifier or regressor (it is a \(trained.structure) model)")
            }
            let outputs = model.outputs(inputs)
            if model.isClassifier {
                let ids = outputs.argmaxRows()
                predictions.task = .classification
                predictions.targets = .classes(ids.map(Int64.init))
                return PredictionResult(task: .classification, predictions: predictions, classNames: info.classes, classIDs: ids, probabilities: outputs)
            }
            predictions.task = .regression
            predictions.targets = .values(outputs.values.map(Double.init))
            return PredictionResult(task: .regression, predictions: predictions, values: outputs.values)
        case .kmeans(let kmeans):
            let (clusters, distances) = kmeans.assign(inputs)
            let names = (0..<kmeans.centroids.rows).map { "cluster_\($0)" }
            predictions.task = .classification
            predictions.classes = names
            predictions.targets = .classes(clusters.map(Int64.init))
            return PredictionResult(task: .clustering, predictions: predictions, classNames: names, classIDs: clusters, distances: distances.map(Float.init))
        case .qTable:
            throw actsInAnEnvironment(checkpoint)
        case .pca(let pca):
            // The projection takes the place of the features; the targets are kept.
            let projected = pca.transform(inputs)
            predictions.features = projected.values
            predictions.featureNames = (0..<projected.columns).map { "pc\($0)" }
            predictions.classes = data.classes
            predictions.targetName = data.targetName
            return PredictionResult(task: .projection, predictions: predictions, components: projected)
        }
    }
}

/// What ``Prediction`` computed: one prediction per input row, in the input's order.
public struct PredictionResult: Sendable, Equatable {
    /// What the model did with the rows.
    public enum Task: String, Sendable, CaseIterable {
        /// A classifier's most probable class, and its class probabilities.
        case classification
        /// A regressor's predicted value.
        case regression
        /// k-means' nearest centroid, and the squared distance to it.
        case clustering
        /// PCA's projection onto its components.
        case projection
    }

    public let task: Task
    /// The classes (classification) or the clusters, `cluster_0` to `cluster_{k-1}` (clustering);
    /// empty otherwise.
    public let classNames: [String]
    /// Per row, the index in ``classNames`` of the predicted class (the most probable, the lower
    /// on a tie) or of the nearest cluster; empty for regression and projection.
    public let classIDs: [Int]
    /// Per row, the predicted value (regression); empty otherwise.
    public let values: [Float]
    /// Rows by classes: each row's class probabilities, in the order of ``classNames``
    /// (classification); nil otherwise.
    public let probabilities: Matrix?
    /// Per row, the squared Euclidean distance from the row, as the model sees it (scaled), to its
    /// cluster's centroid (clustering); empty otherwise.
    public let distances: [Float]
    /// Rows by components: each row projected onto the components (projection); nil otherwise.
    public let components: Matrix?
    /// The predictions as `model/predict` writes them: the input's rows, unscaled, with the
    /// predicted targets (for a projection, the projected features and the input's targets).
    public internal(set) var predictions: Dataset

    init(
        task: Task, predictions: Dataset, classNames: [String] = [], classIDs: [Int] = [], values: [Float] = [],
        probabilities: Matrix? = nil, distances: [Float] = [], components: Matrix? = nil
    ) {
        self.task = task
        self.predictions = predictions
        self.classNames = classNames
        self.classIDs = classIDs
        self.values = values
        self.probabilities = probabilities
        self.distances = distances
        self.components = components
    }

    /// The number of rows predicted.
    public var rowCount: Int { predictions.rowCount }

    /// Per row, the name of the predicted class or cluster; empty for regression and projection.
    public var predictedClasses: [String] {
        classIDs.map { classNames.indices.contains($0) ? classNames[$0] : String($0) }
    }

    /// The dataset beside the predictions in the file: `probabilities` (N x K) for a classifier,
    /// `distances` (N x 1) for k-means.
    var extraDataset: (name: String, values: Matrix)? {
        switch task {
        case .classification: probabilities.map { ("probabilities", $0) }
        case .clustering: ("distances", Matrix(rows: distances.count, columns: 1, values: distances))
        case .regression, .projection: nil
        }
    }

    /// Writes the predictions as `model/predict` does: a dataset file (docs/formats.md §2.7) with
    /// `/probabilities` or `/distances` beside it, replacing any file at `path`.
    /// - Throws: ``DatasetError`` or ``HDF5Error`` when the file cannot be written.
    public func write(hdf5 path: String) throws {
        try DatasetFile.write(predictions, to: path)
        if let extra = extraDataset {
            let file = try HDF5File.open(at: path, mode: .readWrite)
            defer { file.close() }
            try file.root.writeDataset(extra.name, extra.values.values, shape: [extra.values.rows, extra.values.columns])
        }
    }

    /// The predictions as CSV: a header row, then one row per input row, numbered from 0.
    ///
    /// The columns are `row,prediction,p_CLASS...` for a classifier (the class's name, then each
    /// class's probability), `row,prediction` for a regressor, `row,cluster,distance` for k-means
    /// (the cluster's index and the squared distance) and `row,pc0,pc1,...` for a projection.
    /// Numbers are written in the shortest form that reads back as the same float; fields that
    /// hold the separator, a quote or a line break are quoted.
    public func csv() -> String {
        var header = ["row"]
        switch task {
        case .classification:
            header.append("prediction")
            if probabilities != nil { header += classNames.map { "p_\($0)" } }
        case .regression: header.append("prediction")
        case .clustering: header += ["cluster", "distance"]
        case .projection: header += (0..<(components?.columns ?? 0)).map { "pc\($0)" }
        }
        var lines = [header.map(Self.field).joined(separator: ",")]
        lines.reserveCapacity(rowCount + 1)
        let names = predictedClasses
        for row in 0..<rowCount {
            var fields = [String(row)]
            switch task {
            case .classification:
                fields.append(Self.field(names.indices.contains(row) ? names[row] : ""))
                if let probabilities, row < probabilities.rows { fields += probabilities.row(row).map(\.description) }
            case .regression:
                fields.append(values.indices.contains(row) ? values[row].description : "")
            case .clustering:
                fields.append(classIDs.indices.contains(row) ? String(classIDs[row]) : "")
                fields.append(distances.indices.contains(row) ? distances[row].description : "")
            case .projection:
                if let components, row < components.rows { fields += components.row(row).map(\.description) }
            }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field: as it is, or quoted when it holds a comma, a quote or a line break.
    private static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
