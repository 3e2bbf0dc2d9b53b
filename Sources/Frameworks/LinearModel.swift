public import BlacktailData
public import Numerics

/// A model with one dense layer, `x · W + b`: linear or ridge regression (identity output), or
/// logistic (softmax) regression (one output per class).
public struct LinearModel: Sendable, Equatable {
    public enum Output: String, Sendable {
        case identity
        case softmax
    }

    /// (features, outputs).
    public var weights: Matrix
    public var bias: [Float]
    public var output: Output

    public init(weights: Matrix, bias: [Float], output: Output) {
        precondition(bias.count == weights.columns, "one bias per output")
        self.weights = weights
        self.bias = bias
        self.output = output
    }

    public var inputCount: Int { weights.rows }
    public var outputCount: Int { weights.columns }

    /// The outputs for each row of `features` (rows x inputCount): values, or class probabilities.
    public func outputs(_ features: Matrix) -> Matrix {
        var result = Matrix.product(features, weights)
        result.addToRows(bias)
        if output == .softmax { result.softmaxRows() }
        return result
    }
}

/// What a trained model was made from and with, saved beside its parameters.
public struct ModelInfo: Sendable, Equatable {
    /// `linear`, `logistic`, ...
    public var framework: String
    public var task: Dataset.Task
    public var featureNames: [String]
    public var classes: [String]
    public var targetName: String
    /// The training op's arguments as resolved, defaults included.
    public var hyperparameters: [(String, HyperparameterValue)]
    public var createdBy: String
    /// The scaling its inputs get before the model sees them.
    public var preprocessing: Scaler?
    /// Epochs done, for iterative frameworks.
    public var epoch: Int
    /// The training's random generator after the last epoch, to resume exactly.
    public var randomState: [UInt64]
    /// The BLAS thread count the training ran with.
    public var blasThreads: Int

    public init(
        framework: String, task: Dataset.Task, featureNames: [String], classes: [String], targetName: String,
        hyperparameters: [(String, HyperparameterValue)], createdBy: String, preprocessing: Scaler?,
        epoch: Int = 0, randomState: [UInt64] = [], blasThreads: Int = 1
    ) {
        self.framework = framework
        self.task = task
        self.featureNames = featureNames
        self.classes = classes
        self.targetName = targetName
        self.hyperparameters = hyperparameters
        self.createdBy = createdBy
        self.preprocessing = preprocessing
        self.epoch = epoch
        self.randomState = randomState
        self.blasThreads = blasThreads
    }

    public static func == (lhs: ModelInfo, rhs: ModelInfo) -> Bool {
        lhs.framework == rhs.framework && lhs.task == rhs.task && lhs.featureNames == rhs.featureNames
            && lhs.classes == rhs.classes && lhs.targetName == rhs.targetName && lhs.createdBy == rhs.createdBy
            && lhs.preprocessing == rhs.preprocessing && lhs.epoch == rhs.epoch && lhs.randomState == rhs.randomState
            && lhs.blasThreads == rhs.blasThreads
            && lhs.hyperparameters.map(\.0) == rhs.hyperparameters.map(\.0) && lhs.hyperparameters.map(\.1) == rhs.hyperparameters.map(\.1)
    }
}

/// A hyperparameter as a checkpoint stores it.
public enum HyperparameterValue: Sendable, Hashable {
    case int(Int64)
    case double(Double)
    case string(String)
    case ints([Int64])
    case doubles([Double])
    case strings([String])
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
    return Matrix(rows: prepared.rowCount, columns: prepared.featureCount, values: prepared.features)
}
