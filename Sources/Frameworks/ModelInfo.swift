public import BlacktailData
public import HDF5
public import BlacktailNumerics

/// What a model does: the task of the data it learnt from, or acting in an environment.
public enum ModelTask: String, Sendable, CaseIterable {
    case classification
    case regression
    /// Clustering and projections: no targets.
    case unlabelled
    /// A policy or value table for an environment (``ModelInfo/environment`` names it).
    case reinforcement

    public init(_ task: Dataset.Task) {
        switch task {
        case .classification: self = .classification
        case .regression: self = .regression
        case .unlabelled: self = .unlabelled
        }
    }
}

/// What a trained model was made from and with, saved beside its parameters.
public struct ModelInfo: Sendable, Equatable {
    /// `linear`, `logistic`, ...
    public var framework: String
    public var task: ModelTask
    public var featureNames: [String]
    public var classes: [String]
    public var targetName: String
    /// The training op's arguments as resolved, defaults included.
    public var hyperparameters: [(String, HyperparameterValue)]
    public var createdBy: String
    /// The scaling its inputs get before the model sees them.
    public var preprocessing: Scaler?
    /// The BLAS thread count the training ran with.
    public var blasThreads: Int
    /// The sha256 of the checkpoint it was fine-tuned from (transfer learning), or empty.
    public var parentSHA256: String
    /// The environment a reinforcement-learning model acts in.
    public var environment: EnvironmentSpec?

    public init(
        framework: String, task: ModelTask, featureNames: [String], classes: [String], targetName: String,
        hyperparameters: [(String, HyperparameterValue)], createdBy: String, preprocessing: Scaler?,
        blasThreads: Int = 1, parentSHA256: String = "", environment: EnvironmentSpec? = nil
    ) {
        self.framework = framework
        self.task = task
        self.featureNames = featureNames
        self.classes = classes
        self.targetName = targetName
        self.hyperparameters = hyperparameters
        self.createdBy = createdBy
        self.preprocessing = preprocessing
        self.blasThreads = blasThreads
        self.parentSHA256 = parentSHA256
        self.environment = environment
    }

    public static func == (lhs: ModelInfo, rhs: ModelInfo) -> Bool {
        lhs.framework == rhs.framework && lhs.task == rhs.task && lhs.featureNames == rhs.featureNames
            && lhs.classes == rhs.classes && lhs.targetName == rhs.targetName && lhs.createdBy == rhs.createdBy
            && lhs.preprocessing == rhs.preprocessing && lhs.blasThreads == rhs.blasThreads
            && lhs.hyperparameters.map(\.0) == rhs.hyperparameters.map(\.0) && lhs.hyperparameters.map(\.1) == rhs.hyperparameters.map(\.1)
            && lhs.parentSHA256 == rhs.parentSHA256 && lhs.environment == rhs.environment
    }
}

/// A hyperparameter as a checkpoint stores it: an attribute of `/hyperparameters`.
public typealias HyperparameterValue = HDF5AttributeValue

extension Dataset {
    /// The features as a matrix, rows by features, sharing the dataset's storage.
    public var featureMatrix: Matrix {
        Matrix(rows: rowCount, columns: featureCount, values: features)
    }
}

/// The features of a dataset as a matrix for `info`'s model.
///
/// Training and evaluation ops take data as the pipeline prepared it (already scaled by
/// data/normalize); `model/predict` takes raw data and applies the model's saved preprocessing
/// (`applyingPreprocessing`).
/// - Throws: ``DatasetError`` when the dataset's features are not the model's.
public func modelInputs(_ dataset: Dataset, for info: ModelInfo, applyingPreprocessing: Bool, file: String = "") throws(DatasetError) -> Matrix {
    guard dataset.featureNames == info.featureNames else {
        throw DatasetError(
            file: file,
            "its features (\(dataset.featureNames.prefix(5).joined(separator: ", "))\(dataset.featureCount > 5 ? ", ..." : "")) are not the \(info.featureNames.count) the model was trained on"
        )
    }
    var prepared = dataset
    if applyingPreprocessing, let scaler = info.preprocessing {
        prepared = try scaler.apply(to: dataset, file: file)
    }
    return prepared.featureMatrix
}
