public import BlacktailData
import Foundation
public import BlacktailNumerics

/// Least squares with an optional ridge penalty, solved exactly: (XᵀX + λI) w = Xᵀy on centred data,
/// in double precision, so the intercept is not penalised.
public enum LinearRegression {
    /// - Throws: ``DatasetError`` when the targets are not numbers or the system is singular (a
    ///   feature that is a copy of another, with no ridge penalty).
    public static func fit(_ dataset: Dataset, l2: Double, file: String = "") throws(DatasetError) -> DenseNetwork {
        guard case .values(let targets) = dataset.targets else {
            throw DatasetError(file: file, "linear regression needs regression targets (numbers), but the dataset is \(dataset.task.rawValue)")
        }
        let rows = dataset.rowCount
        let width = dataset.featureCount
        guard rows > 0 else { throw DatasetError(file: file, "the training set has no rows") }
        var means = [Double](repeating: 0, count: width)
        for row in 0..<rows {
            for column in 0..<width { means[column] += Double(dataset.features[row * width + column]) }
        }
        for column in 0..<width { means[column] /= Double(rows) }
        let targetMean = targets.reduce(0, +) / Double(rows)
        // Normal equations on centred data.
        var gram = [Double](repeating: 0, count: width * width)
        var moment = [Double](repeating: 0, count: width)
        var centred = [Double](repeating: 0, count: width)
        for row in 0..<rows {
            for column in 0..<width { centred[column] = Double(dataset.features[row * width + column]) - means[column] }
            let target = targets[row] - targetMean
            for i in 0..<width {
                moment[i] += centred[i] * target
                for j in i..<width { gram[i * width + j] += centred[i] * centred[j] }
            }
        }
        for i in 0..<width {
            for j in 0..<i { gram[i * width + j] = gram[j * width + i] }
            gram[i * width + i] += l2
        }
        guard let solution = Cholesky.solve(gram, moment, size: width) else {
            throw DatasetError(file: file, "the features are linearly dependent; give 'l2' a positive value (ridge regression)")
        }
        let bias = targetMean - zip(solution, means).map { $0 * $1 }.reduce(0, +)
        let layer = DenseLayer(weights: Matrix(rows: width, columns: 1, values: solution.map(Float.init)), bias: [Float(bias)])
        return DenseNetwork(layers: [layer], output: .identity)
    }
}

enum Cholesky {
    /// Solves A x = b for a symmetric positive-definite A (size x size, row-major), or nil when A is
    /// not positive definite.
    static func solve(_ matrix: [Double], _ vector: [Double], size: Int) -> [Double]? {
        var lower = [Double](repeating: 0, count: size * size)
        for i in 0..<size {
            for j in 0...i {
                var sum = matrix[i * size + j]
                for k in 0..<j { sum -= lower[i * size + k] * lower[j * size + k] }
                if i == j {
                    guard sum > 1e-12 * max(1, abs(matrix[i * size + i])) else { return nil }
                    lower[i * size + i] = sum.squareRoot()
                } else {
                    lower[i * size + j] = sum / lower[j * size + j]
                }
            }
        }
        var forward = [Double](repeating: 0, count: size)
        for i in 0..<size {
            var sum = vector[i]
            for k in 0..<i { sum -= lower[i * size + k] * forward[k] }
            forward[i] = sum / lower[i * size + i]
        }
        var solution = [Double](repeating: 0, count: size)
        for i in stride(from: size - 1, through: 0, by: -1) {
            var sum = forward[i]
            for k in (i + 1)..<size { sum -= lower[k * size + i] * solution[k] }
            solution[i] = sum / lower[i * size + i]
        }
        return solution
    }
}

/// Softmax (multinomial logistic) regression: a network with no hidden layer, trained by minibatch
/// gradient descent with momentum and an L2 penalty, in a seeded, repeatable order, with the learning
/// rate decaying along a cosine to zero at the last epoch, so that the last epochs settle instead of
/// wandering. With a validation set, the epoch with the best validation accuracy is kept.
///
/// It is the ``MultilayerPerceptron`` with these settings, so it checkpoints and resumes the same way.
public struct LogisticRegression: Sendable {
    public var learningRate: Double = 0.1
    public var l2: Double = 0.0001
    public var epochs: Int = 100
    public var batchSize: Int = 32
    public var momentum: Double = 0.9
    public var seed: UInt64 = 0

    public init() {}

    /// The perceptron that trains it.
    public var trainer: MultilayerPerceptron {
        var trainer = MultilayerPerceptron()
        trainer.hidden = []
        trainer.loss = .crossEntropy
        trainer.optimizer = .sgd
        trainer.schedule = .cosine
        trainer.learningRate = learningRate
        trainer.momentum = momentum
        trainer.l2 = l2
        trainer.batchSize = batchSize
        trainer.epochs = epochs
        trainer.patience = .max  // keeps the best epoch, never stops early
        trainer.seed = seed
        return trainer
    }

    /// Trains on `train`; with `validation`, returns the parameters of the epoch with the best
    /// validation accuracy (the first, on a tie).
    /// - Throws: ``DatasetError`` when the training set has no labelled rows of two classes or more.
    public func fit(
        _ train: Dataset,
        validation: Dataset? = nil,
        file: String = "",
        report: (MultilayerPerceptron.Epoch) throws -> Void = { _ in }
    ) throws -> (model: DenseNetwork, state: TrainingState) {
        guard train.task == .classification, let ids = train.classIDs else {
            throw DatasetError(file: file, "logistic regression needs classification data, but the dataset is \(train.task.rawValue)")
        }
        guard ids.contains(where: { $0 >= 0 }), train.classes.count >= 2 else {
            throw DatasetError(file: file, "logistic regression needs labelled rows of at least two classes")
        }
        let trainer = trainer
        let (network, state) = trainer.start(inputs: train.featureCount, outputs: train.classes.count, output: .softmax)
        return try trainer.train(train, validation: validation, from: network, state: state, file: file, report: report)
    }
}
