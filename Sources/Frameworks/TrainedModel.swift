public import BlacktailData
public import Numerics

/// A trained model of any framework.
public enum TrainedModel: Sendable, Equatable {
    case network(DenseNetwork)
    case kmeans(KMeansModel)
    case pca(PCAModel)
}

/// k-means: the centroids, one row per cluster.
public struct KMeansModel: Sendable, Equatable {
    public var centroids: Matrix

    public init(centroids: Matrix) {
        self.centroids = centroids
    }

    /// The nearest centroid of each row, and the squared distance to it (ties to the lower cluster).
    ///
    /// Distances come from ‖x‖² − 2 x·c + ‖c‖², with the products in one matrix multiplication.
    public func assign(_ features: Matrix) -> (clusters: [Int], distances: [Double]) {
        let cross = Matrix.product(features, centroids, transposeB: true)
        let k = centroids.rows
        let width = features.columns
        let centroidNorms = (0..<k).map { cluster in
            centroids.row(cluster).reduce(0.0) { $0 + Double($1) * Double($1) }
        }
        var clusters = [Int](repeating: 0, count: features.rows)
        var distances = [Double](repeating: .infinity, count: features.rows)
        features.values.withUnsafeBufferPointer { values in
            cross.values.withUnsafeBufferPointer { products in
                for row in 0..<features.rows {
                    var norm = 0.0
                    for column in 0..<width { norm += Double(values[row * width + column]) * Double(values[row * width + column]) }
                    for cluster in 0..<k {
                        let distance = max(0, norm - 2 * Double(products[row * k + cluster]) + centroidNorms[cluster])
                        if distance < distances[row] {
                            distances[row] = distance
                            clusters[row] = cluster
                        }
                    }
                }
            }
        }
        return (clusters, distances)
    }
}

/// PCA: the mean, the components (one row each, unit length, by decreasing variance), and the
/// variance each explains.
public struct PCAModel: Sendable, Equatable {
    public var mean: [Float]
    public var components: Matrix
    public var explainedVariance: [Double]
    public var explainedVarianceRatio: [Double]

    public init(mean: [Float], components: Matrix, explainedVariance: [Double], explainedVarianceRatio: [Double]) {
        self.mean = mean
        self.components = components
        self.explainedVariance = explainedVariance
        self.explainedVarianceRatio = explainedVarianceRatio
    }

    /// The rows projected on the components.
    public func transform(_ features: Matrix) -> Matrix {
        var centred = features
        centred.addToRows(mean.map { -$0 })
        return Matrix.product(centred, components, transposeB: true)
    }
}

/// What an interrupted training needs to go on exactly where it stopped (taken between epochs).
public struct TrainingState: Sendable, Equatable {
    public var epoch: Int
    /// Optimizer steps taken (minibatches).
    public var step: Int
    public var random: SeededRandom
    /// Adam's first moments, or SGD's velocity; one per layer, shaped like the parameters.
    public var firstMoments: [DenseLayer]
    /// Adam's second moments; empty for SGD.
    public var secondMoments: [DenseLayer]
    /// Where training is, when the model to use (the best so far) is not it: training resumes from
    /// these parameters.
    public var current: DenseNetwork?
    /// Early stopping: the best parameters so far, their validation score, and the epochs since.
    public var best: DenseNetwork?
    public var bestScore: Double
    public var epochsWithoutImprovement: Int
    /// Whether early stopping ended the training.
    public var stopped: Bool

    public init(
        epoch: Int, step: Int = 0, random: SeededRandom, firstMoments: [DenseLayer] = [], secondMoments: [DenseLayer] = [],
        best: DenseNetwork? = nil, bestScore: Double = -.infinity, epochsWithoutImprovement: Int = 0, stopped: Bool = false
    ) {
        self.epoch = epoch
        self.step = step
        self.random = random
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
        self.best = best
        self.bestScore = bestScore
        self.epochsWithoutImprovement = epochsWithoutImprovement
        self.stopped = stopped
    }
}
