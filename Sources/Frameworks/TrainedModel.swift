public import BlacktailData
public import BlacktailNumerics

/// A trained model of any framework.
public enum TrainedModel: Sendable, Equatable {
    /// Linear, logistic, MLP, a fine-tuned MLP, or a policy-gradient policy.
    case network(DenseNetwork)
    case kmeans(KMeansModel)
    case pca(PCAModel)
    /// A decision tree, a random forest or gradient-boosted trees.
    case trees(TreeEnsemble)
    case labelPropagation(LabelPropagationModel)
    case voting(VotingModel)
    /// Tabular Q-learning's action values.
    case qTable(QTable)

    /// The model as a classifier or regressor, or nil for models that are neither (clustering,
    /// projections, value tables).
    public var supervised: (any SupervisedModel)? {
        switch self {
        case .network(let network): network
        case .trees(let trees): trees
        case .labelPropagation(let model): model
        case .voting(let model): model
        case .kmeans, .pca, .qTable: nil
        }
    }

    /// The number of features a row must have, for the kinds of model that say it in their
    /// parameters; nil for the others (trees check their own, voting its members').
    var inputWidth: Int? {
        switch self {
        case .network(let network): network.inputCount
        case .kmeans(let kmeans): kmeans.centroids.columns
        case .pca(let pca): pca.components.columns
        case .labelPropagation(let model): model.features.columns
        case .trees, .voting, .qTable: nil
        }
    }

    /// What `/architecture`'s `model` attribute calls this kind of model in a checkpoint.
    public var structure: String {
        switch self {
        case .network: "network"
        case .kmeans: "kmeans"
        case .pca: "pca"
        case .trees: "trees"
        case .labelPropagation: "label-propagation"
        case .voting: "voting"
        case .qTable: "q-table"
        }
    }
}

/// A model that maps feature rows to class probabilities or to values.
public protocol SupervisedModel: Sendable {
    /// Whether ``outputs(_:)`` gives class probabilities (one column per class) rather than values
    /// (one column).
    var isClassifier: Bool { get }
    /// The number of output columns: classes, or 1.
    var outputCount: Int { get }
    /// One row of probabilities or values for each row of `features`.
    func outputs(_ features: Matrix) -> Matrix
}

extension DenseNetwork: SupervisedModel {
    public var isClassifier: Bool { output == .softmax }
}

extension TreeEnsemble: SupervisedModel {
    public var isClassifier: Bool { task == .classification }

    public func outputs(_ features: Matrix) -> Matrix {
        outputs(features, threads: 1)
    }
}

/// k-means: the centroids, one row per cluster.
public struct KMeansModel: Sendable, Equatable {
    public var centroids: Matrix

    public init(centroids: Matrix) {
        self.centroids = centroids
    }

    /// The nearest centroid of each row, and the squared distance to it (ties to the lower cluster).
    ///
    /// Distances come from ‖x‖² − 2 x·c + ‖c‖², the products in matrix multiplications, the rows
    /// split over `threads` parts (`rowNorms` are the rows' squared lengths, when already known).
    public func assign(_ features: Matrix, rowNorms: [Double]? = nil, threads: Int = 1) -> (clusters: [Int], distances: [Double]) {
        let k = centroids.rows
        let norms = rowNorms ?? features.rowSquaredNorms()
        let centroidNorms = centroids.rowSquaredNorms()
        var clusters = [Int](repeating: 0, count: features.rows)
        var distances = [Double](repeating: .infinity, count: features.rows)
        clusters.withUnsafeMutableBufferPointer { clusterPointer in
            distances.withUnsafeMutableBufferPointer { distancePointer in
                // Each part writes only its own rows.
                nonisolated(unsafe) let clusterOut = clusterPointer
                nonisolated(unsafe) let distanceOut = distancePointer
                Parallel.forEachPart(features.rows, parts: threads) { _, range in
                    let cross = features.product(ofRows: range, with: centroids, transposeOther: true)
                    cross.values.withUnsafeBufferPointer { products in
                        norms.withUnsafeBufferPointer { rowNorm in
                            centroidNorms.withUnsafeBufferPointer { centroidNorm in
                                for (offset, row) in range.enumerated() {
                                    var best = Double.infinity
                                    var bestCluster = 0
                                    let base = offset * k
                                    for cluster in 0..<k {
                                        let distance = rowNorm[row] - 2 * Double(products[base + cluster]) + centroidNorm[cluster]
                                        if distance < best {
                                            best = distance
                                            bestCluster = cluster
                                        }
                                    }
                                    clusterOut[row] = bestCluster
                                    distanceOut[row] = max(0, best)
                                }
                            }
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
