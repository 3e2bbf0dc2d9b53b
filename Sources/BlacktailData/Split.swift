/// Splitting a dataset into train, validation and test rows.
public struct DatasetSplit: Sendable {
    public var train: Double
    public var validation: Double
    public var test: Double
    /// Keep each class's share in every part (classification only).
    public var stratify: Bool
    public var seed: UInt64

    public init(train: Double = 0.8, validation: Double = 0, test: Double = 0.2, stratify: Bool = true, seed: UInt64 = 0) {
        self.train = train
        self.validation = validation
        self.test = test
        self.stratify = stratify
        self.seed = seed
    }

    /// The row indices of each part, each in ascending order.
    ///
    /// Part sizes are the fractions of the rows rounded as scikit-learn rounds them (test and
    /// validation up, train takes the rest). Stratified, each class (and the unlabelled rows, as a
    /// group of their own) gives each part its share, with the rows left by rounding going to the
    /// classes with the largest remainders. The same data, fractions and seed give the same parts.
    /// - Throws: ``DatasetError`` when the fractions are negative or do not add up to 1.
    public func indices(for dataset: Dataset, file: String = "") throws(DatasetError) -> (train: [Int], validation: [Int], test: [Int]) {
        let fractions = [train, validation, test]
        guard fractions.allSatisfy({ $0 >= 0 && $0 <= 1 }), abs(fractions.reduce(0, +) - 1) < 1e-9 else {
            throw DatasetError(file: file, "the fractions train \(train), validation \(validation) and test \(test) must be between 0 and 1 and add up to 1")
        }
        let rows = dataset.rowCount
        let testCount = test > 0 ? min(rows, Int((test * Double(rows)).rounded(.up))) : 0
        let validationCount = validation > 0 ? min(rows - testCount, Int((validation * Double(rows)).rounded(.up))) : 0
        var random = SeededRandom(seed: seed)

        var groups: [[Int]]
        if stratify, let ids = dataset.classIDs, dataset.task == .classification {
            var byClass: [Int64: [Int]] = [:]
            for (row, id) in ids.enumerated() { byClass[id, default: []].append(row) }
            groups = byClass.keys.sorted().map { byClass[$0]! }
        } else {
            groups = [Array(0..<rows)]
        }
        for index in groups.indices { random.shuffle(&groups[index]) }

        let testShares = Self.allocate(testCount, over: groups.map(\.count), total: rows)
        let remaining = zip(groups.map(\.count), testShares).map { $0 - $1 }
        let validationShares = Self.allocate(validationCount, over: remaining, total: rows - testCount)
        var trainRows: [Int] = []
        var validationRows: [Int] = []
        var testRows: [Int] = []
        for (index, group) in groups.enumerated() {
            testRows += group[0..<testShares[index]]
            validationRows += group[testShares[index]..<(testShares[index] + validationShares[index])]
            trainRows += group[(testShares[index] + validationShares[index])...]
        }
        return (trainRows.sorted(), validationRows.sorted(), testRows.sorted())
    }

    /// Shares of `count` for groups of `sizes`, proportional, adding up to `count` exactly: largest
    /// remainders first, ties to the earlier group.
    static func allocate(_ count: Int, over sizes: [Int], total: Int) -> [Int] {
        guard count > 0, total > 0 else { return sizes.map { _ in 0 } }
        let exact = sizes.map { Double($0) * Double(count) / Double(total) }
        var shares = zip(exact, sizes).map { min($1, Int($0.rounded(.down))) }
        var left = count - shares.reduce(0, +)
        let order = sizes.indices.sorted { lhs, rhs in
            let a = exact[lhs] - exact[lhs].rounded(.down)
            let b = exact[rhs] - exact[rhs].rounded(.down)
            return a != b ? a > b : lhs < rhs
        }
        while left > 0 {
            var placed = false
            for index in order where left > 0 && shares[index] < sizes[index] {
                shares[index] += 1
                left -= 1
                placed = true
            }
            if !placed { break }
        }
        return shares
    }
}
