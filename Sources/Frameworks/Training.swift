public import BlacktailData
import Foundation
public import Numerics

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

/// Softmax (multinomial logistic) regression, trained by minibatch gradient descent with momentum
/// and an L2 penalty, in a seeded, repeatable order, with the learning rate decaying along a cosine to
/// zero at the last epoch, so that the last epochs settle instead of wandering.
public struct LogisticRegression: Sendable {
    public var learningRate: Double = 0.1
    public var l2: Double = 0.0001
    public var epochs: Int = 100
    public var batchSize: Int = 32
    public var momentum: Double = 0.9
    public var seed: UInt64 = 0

    public init() {}

    /// One epoch's report.
    public struct Epoch: Sendable {
        public var epoch: Int
        public var loss: Double
        public var validationAccuracy: Double?
    }

    /// Trains on `train`; with `validation`, keeps the parameters of the epoch with the best
    /// validation accuracy (the first, on a tie).
    /// - Throws: ``DatasetError`` when the training set has no labelled rows or no classes.
    public func fit(
        _ train: Dataset,
        validation: Dataset? = nil,
        file: String = "",
        report: (Epoch) throws -> Void = { _ in }
    ) throws -> (model: DenseNetwork, random: SeededRandom) {
        guard train.task == .classification, let ids = train.classIDs else {
            throw DatasetError(file: file, "logistic regression needs classification data, but the dataset is \(train.task.rawValue)")
        }
        let labelled = ids.indices.filter { ids[$0] >= 0 }
        let classes = train.classes.count
        guard !labelled.isEmpty, classes >= 2 else {
            throw DatasetError(file: file, "logistic regression needs labelled rows of at least two classes")
        }
        let width = train.featureCount
        let features = Matrix(rows: train.rowCount, columns: width, values: train.features)
        var model = DenseNetwork(
            layers: [DenseLayer(weights: Matrix(rows: width, columns: classes), bias: [Float](repeating: 0, count: classes))],
            output: .softmax
        )
        var weightVelocity = Matrix(rows: width, columns: classes)
        var biasVelocity = [Float](repeating: 0, count: classes)
        var random = SeededRandom(seed: seed)
        var order = labelled
        var best: (accuracy: Double, model: DenseNetwork)?
        let validationInputs = validation.map { Matrix(rows: $0.rowCount, columns: $0.featureCount, values: $0.features) }

        for epoch in 1...max(epochs, 1) {
            random.shuffle(&order)
            let rate = learningRate * 0.5 * (1 + Foundation.cos(Double.pi * Double(epoch - 1) / Double(max(epochs, 1))))
            var lossSum = 0.0
            var start = 0
            while start < order.count {
                let batch = Array(order[start..<min(order.count, start + batchSize)])
                start += batchSize
                let inputs = features.rows(batch)
                var gradient = model.outputs(inputs)  // probabilities, then (p - y)
                for (row, index) in batch.enumerated() {
                    let label = Int(ids[index])
                    lossSum -= Double(max(gradient[row, label], 1e-12).logarithm)
                    gradient[row, label] -= 1
                }
                let scale = Float(1) / Float(batch.count)
                var weightGradient = Matrix.product(inputs, gradient, transposeA: true)
                weightGradient.scale(by: scale)
                weightGradient.add(model.layers[0].weights, scaledBy: Float(l2))
                let biasGradient = gradient.columnSums().map { $0 * scale }
                weightVelocity.scale(by: Float(momentum))
                weightVelocity.add(weightGradient, scaledBy: -Float(rate))
                model.layers[0].weights.add(weightVelocity)
                for k in 0..<classes {
                    biasVelocity[k] = Float(momentum) * biasVelocity[k] - Float(rate) * biasGradient[k]
                    model.layers[0].bias[k] += biasVelocity[k]
                }
            }
            var validationAccuracy: Double?
            if let validation, let validationInputs, let validationIDs = validation.classIDs {
                let predicted = model.outputs(validationInputs).argmaxRows()
                let scored = validationIDs.indices.filter { validationIDs[$0] >= 0 }
                let correct = scored.count { predicted[$0] == Int(validationIDs[$0]) }
                let accuracy = scored.isEmpty ? 0 : Double(correct) / Double(scored.count)
                validationAccuracy = accuracy
                if best == nil || accuracy > best!.accuracy { best = (accuracy, model) }
            }
            try report(Epoch(epoch: epoch, loss: lossSum / Double(order.count), validationAccuracy: validationAccuracy))
        }
        return (best?.model ?? model, random)
    }
}

extension Float {
    var logarithm: Float { Float(Foundation.log(Double(self))) }
}
