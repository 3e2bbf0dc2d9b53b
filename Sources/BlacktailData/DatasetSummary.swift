/// What `blacktail data inspect` shows of a dataset file: its shape, types, attributes, class
/// balance and per-feature statistics, computed block by block.
public struct DatasetSummary: Sendable {
    public struct FeatureStatistics: Sendable, Equatable {
        public var name: String
        public var minimum: Double
        public var maximum: Double
        public var mean: Double
        public var standardDeviation: Double
        /// Values that are NaN (missing).
        public var missing: Int
    }

    public var path: String
    public var rows: Int
    public var features: Int
    public var task: Dataset.Task
    public var targetName: String
    public var provenance: Dataset.Provenance
    /// Rows per class name, in class-id order, for classification.
    public var classCounts: [(name: String, rows: Int)]
    public var unlabelledRows: Int
    /// Minimum, maximum and mean of regression targets.
    public var targetRange: (minimum: Double, maximum: Double, mean: Double)?
    public var statistics: [FeatureStatistics]

    /// Reads the file in blocks of `blockRows` rows.
    public init(path: String, blockRows: Int = 65_536) throws(DatasetError) {
        let reader = try DatasetReader(path: path)
        defer { reader.close() }
        self.path = path
        rows = reader.rowCount
        features = reader.featureCount
        task = reader.task
        targetName = reader.targetName
        provenance = reader.provenance
        var counts = [Int](repeating: 0, count: reader.classes.count)
        var unlabelled = 0
        var sums = [Double](repeating: 0, count: features)
        var squares = [Double](repeating: 0, count: features)
        var minimums = [Double](repeating: .infinity, count: features)
        var maximums = [Double](repeating: -.infinity, count: features)
        var present = [Int](repeating: 0, count: features)
        var targetSum = 0.0
        var targetLow = Double.infinity
        var targetHigh = -Double.infinity
        var start = 0
        while start < rows {
            let block = try reader.readRows(start..<min(rows, start + blockRows))
            for (index, value) in block.features.enumerated() where !value.isNaN {
                let column = index % features
                let number = Double(value)
                sums[column] += number
                squares[column] += number * number
                minimums[column] = min(minimums[column], number)
                maximums[column] = max(maximums[column], number)
                present[column] += 1
            }
            switch block.targets {
            case .classes(let ids):
                for id in ids {
                    if id < 0 || Int(id) >= counts.count { unlabelled += 1 } else { counts[Int(id)] += 1 }
                }
            case .values(let values):
                for value in values {
                    targetSum += value
                    targetLow = min(targetLow, value)
                    targetHigh = max(targetHigh, value)
                }
            }
            start += blockRows
        }
        classCounts = zip(reader.classes, counts).map { ($0, $1) }
        unlabelledRows = unlabelled
        targetRange = task == .regression && rows > 0 ? (targetLow, targetHigh, targetSum / Double(rows)) : nil
        let rows = rows
        let names = reader.featureNames
        statistics = (0..<features).map { column in
            let count = Double(max(present[column], 1))
            let mean = sums[column] / count
            let variance = max(0, squares[column] / count - mean * mean)
            return FeatureStatistics(
                name: names[column],
                minimum: present[column] > 0 ? minimums[column] : .nan,
                maximum: present[column] > 0 ? maximums[column] : .nan,
                mean: present[column] > 0 ? mean : .nan,
                standardDeviation: present[column] > 0 ? variance.squareRoot() : .nan,
                missing: rows - present[column]
            )
        }
    }
}
