public import BlacktailData
public import BlacktailNumerics

/// k-means with k-means++ initialisation, several restarts, the best kept.
public struct KMeans: Sendable {
    public var k: Int
    public var restarts: Int = 10
    public var maximumIterations: Int = 300
    /// A run stops when the centroids move less than this, in squared distance summed over the
    /// centroids, relative to the mean variance of the features (scikit-learn's rule).
    public var tolerance: Double = 1e-4
    public var seed: UInt64 = 0
    /// Parts the rows are split into for the distance computations (the results depend on it, not on
    /// timing). BLAS runs single-threaded inside each part.
    public var threads: Int = 1

    public init(k: Int) {
        self.k = k
    }

    /// The best of `restarts` runs by inertia (the sum of squared distances to the nearest
    /// centroid), and that inertia.
    /// - Throws: ``DatasetError`` when there are fewer rows than clusters.
    public func fit(_ features: Matrix, file: String = "") throws(DatasetError) -> (model: KMeansModel, inertia: Double) {
        guard k >= 1, features.rows >= k else {
            throw DatasetError(file: file, "k-means with k = \(k) needs at least \(k) rows, but there are \(features.rows)")
        }
        var random = SeededRandom(seed: seed)
        var best: (KMeansModel, Double)?
        let threshold = tolerance * Self.meanVariance(features)
        let norms = features.rowSquaredNorms()
        let blasThreads = BLAS.threadCount
        if threads > 1 { BLAS.setThreadCount(1) }
        defer { BLAS.setThreadCount(blasThreads) }
        for _ in 0..<max(restarts, 1) {
            let (model, inertia) = run(features, norms: norms, threshold: threshold, random: &random)
            if best == nil || inertia < best!.1 { best = (model, inertia) }
        }
        return best!
    }

    private func run(_ features: Matrix, norms: [Double], threshold: Double, random: inout SeededRandom) -> (KMeansModel, Double) {
        var model = KMeansModel(centroids: initialCentroids(features, norms: norms, random: &random))
        var assignment = model.assign(features, rowNorms: norms, threads: threads)
        let width = features.columns
        for _ in 0..<maximumIterations {
            // New centroids: the means of their rows; an empty cluster keeps its centroid. Each part
            // of the rows sums on its own, and the parts are added in order.
            let parts = max(1, min(threads, features.rows))
            var partSums = [Double](repeating: 0, count: parts * k * width)
            var partCounts = [Int](repeating: 0, count: parts * k)
            let clusters = assignment.clusters
            partSums.withUnsafeMutableBufferPointer { sumPointer in
                partCounts.withUnsafeMutableBufferPointer { countPointer in
                    nonisolated(unsafe) let sumsOut = sumPointer
                    nonisolated(unsafe) let countsOut = countPointer
                    Parallel.forEachPart(features.rows, parts: parts) { part, range in
                        features.values.withUnsafeBufferPointer { values in
                            let partSums = sumsOut.baseAddress! + part * k * width
                            for row in range {
                                let cluster = clusters[row]
                                countsOut[part * k + cluster] += 1
                                // Through plain pointers, so that the loop is vectorised: indices
                                // checked for overflow element by element kept it scalar.
                                let source = values.baseAddress! + row * width
                                let target = partSums + cluster * width
                                for column in 0..<width { target[column] += Double(source[column]) }
                            }
                        }
                    }
                }
            }
            var sums = [Double](repeating: 0, count: k * width)
            var counts = [Int](repeating: 0, count: k)
            for part in 0..<parts {
                for index in 0..<(k * width) { sums[index] += partSums[part * k * width + index] }
                for cluster in 0..<k { counts[cluster] += partCounts[part * k + cluster] }
            }
            var shift = 0.0
            for cluster in 0..<k where counts[cluster] > 0 {
                for column in 0..<width {
                    let updated = Float(sums[cluster * width + column] / Double(counts[cluster]))
                    let delta = Double(updated) - Double(model.centroids[cluster, column])
                    shift += delta * delta
                    model.centroids[cluster, column] = updated
                }
            }
            let next = model.assign(features, rowNorms: norms, threads: threads)
            let changed = next.clusters != assignment.clusters
            assignment = next
            if !changed || shift <= threshold { break }
        }
        return (model, assignment.distances.reduce(0, +))
    }

    /// The mean over the features of their variance (the population one, dividing by N).
    static func meanVariance(_ features: Matrix) -> Double {
        guard features.rows > 0, features.columns > 0 else { return 0 }
        var sums = [Double](repeating: 0, count: features.columns)
        var squares = [Double](repeating: 0, count: features.columns)
        for row in 0..<features.rows {
            for column in 0..<features.columns {
                let value = Double(features[row, column])
                sums[column] += value
                squares[column] += value * value
            }
        }
        let rows = Double(features.rows)
        return zip(sums, squares).map { max(0, $1 / rows - ($0 / rows) * ($0 / rows)) }.reduce(0, +) / Double(features.columns)
    }

    /// k-means++: the first centroid uniformly, each next one with probability proportional to the
    /// squared distance to the nearest chosen so far.
    private func initialCentroids(_ features: Matrix, norms: [Double], random: inout SeededRandom) -> Matrix {
        var chosen = [random.nextIndex(below: features.rows)]
        var distances = [Double](repeating: .infinity, count: features.rows)
        while chosen.count < k {
            // Distances to the newest centroid, from one product of the rows with it.
            let newest = KMeansModel(centroids: features.rows([chosen[chosen.count - 1]]))
            let (_, toNewest) = newest.assign(features, rowNorms: norms, threads: threads)
            for row in 0..<features.rows { distances[row] = min(distances[row], toNewest[row]) }
            let total = distances.reduce(0, +)
            guard total > 0 else {
                chosen.append(random.nextIndex(below: features.rows))
                continue
            }
            var target = random.nextUnit() * total
            var pick = features.rows - 1
            for row in 0..<features.rows {
                target -= distances[row]
                if target < 0 {
                    pick = row
                    break
                }
            }
            chosen.append(pick)
        }
        return features.rows(chosen)
    }

    /// The mean silhouette of the rows at `sample` (indices into `features`), computed against all
    /// the sampled rows.
    public static func silhouette(_ features: Matrix, clusters: [Int], sample: [Int]) -> Double {
        guard Set(sample.map { clusters[$0] }).count > 1 else { return 0 }
        var total = 0.0
        for row in sample {
            var sums: [Int: (Double, Int)] = [:]
            for other in sample where other != row {
                var distance = 0.0
                for column in 0..<features.columns {
                    let delta = Double(features[row, column]) - Double(features[other, column])
                    distance += delta * delta
                }
                let current = sums[clusters[other], default: (0, 0)]
                sums[clusters[other]] = (current.0 + distance.squareRoot(), current.1 + 1)
            }
            let own = sums[clusters[row]].map { $0.1 > 0 ? $0.0 / Double($0.1) : 0 } ?? 0
            let nearest = sums.filter { $0.key != clusters[row] && $0.value.1 > 0 }.map { $0.value.0 / Double($0.value.1) }.min() ?? 0
            let denominator = max(own, nearest)
            total += denominator > 0 ? (nearest - own) / denominator : 0
        }
        return total / Double(sample.count)
    }
}

/// Principal component analysis by an eigen-decomposition of the covariance matrix (cyclic Jacobi,
/// in double precision).
public enum PrincipalComponents {
    /// - Throws: ``DatasetError`` when more components are asked for than there are features, or
    ///   there are fewer than two rows.
    public static func fit(_ features: Matrix, components: Int, file: String = "") throws(DatasetError) -> PCAModel {
        let width = features.columns
        guard components >= 1, components <= width else {
            throw DatasetError(file: file, "PCA keeps between 1 and \(width) components, not \(components)")
        }
        guard features.rows >= 2 else { throw DatasetError(file: file, "PCA needs at least two rows") }
        let (mean, covariance) = features.covariance()
        let (values, vectors) = SymmetricEigen.decompose(covariance, size: width)
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }.prefix(components)
        let total = values.reduce(0, +)
        var matrix = Matrix(rows: components, columns: width)
        for (position, index) in order.enumerated() {
            // A sign convention: the largest-magnitude entry of each component is positive.
            let column = (0..<width).map { vectors[$0 * width + index] }
            let sign: Double = (column.max { abs($0) < abs($1) } ?? 1) < 0 ? -1 : 1
            for j in 0..<width { matrix[position, j] = Float(sign * column[j]) }
        }
        let explained = order.map { max(values[$0], 0) }
        return PCAModel(
            mean: mean.map(Float.init), components: matrix,
            explainedVariance: explained, explainedVarianceRatio: explained.map { total > 0 ? $0 / total : 0 }
        )
    }
}

/// Eigenvalues and eigenvectors of a symmetric matrix by the cyclic Jacobi method.
public enum SymmetricEigen {
    /// The eigenvalues, and the eigenvectors as the columns of a row-major size x size matrix.
    public static func decompose(_ matrix: [Double], size: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: size * size)
        for i in 0..<size { v[i * size + i] = 1 }
        for _ in 0..<100 {
            var offDiagonal = 0.0
            for i in 0..<size {
                for j in (i + 1)..<max(i + 1, size) { offDiagonal += a[i * size + j] * a[i * size + j] }
            }
            if offDiagonal < 1e-22 { break }
            for p in 0..<size {
                for q in (p + 1)..<max(p + 1, size) where abs(a[p * size + q]) > 1e-300 {
                    let theta = (a[q * size + q] - a[p * size + p]) / (2 * a[p * size + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<size {
                        let akp = a[k * size + p]
                        let akq = a[k * size + q]
                        a[k * size + p] = c * akp - s * akq
                        a[k * size + q] = s * akp + c * akq
                    }
                    for k in 0..<size {
                        let apk = a[p * size + k]
                        let aqk = a[q * size + k]
                        a[p * size + k] = c * apk - s * aqk
                        a[q * size + k] = s * apk + c * aqk
                    }
                    for k in 0..<size {
                        let vkp = v[k * size + p]
                        let vkq = v[k * size + q]
                        v[k * size + p] = c * vkp - s * vkq
                        v[k * size + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<size).map { a[$0 * size + $0] }, v)
    }
}
