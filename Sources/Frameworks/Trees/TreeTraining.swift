import BlacktailData
import Dispatch
import BlacktailNumerics
import Synchronization

/// The rows a tree learner trains on (the labelled ones) and their targets.
struct TreeTrainingData: Sendable {
    /// Indices of the dataset's rows that are trained on, ascending.
    var rows: [Int]
    var task: TreeEnsemble.Task
    /// Classes (every class the dataset names, present or not), or 1 for regression.
    var classCount: Int
    /// The class of each trained row (classification).
    var classes: [Int32]
    /// The target of each trained row (regression).
    var targets: [Double]

    /// - Throws: ``DatasetError`` for data a tree cannot learn from: no features, no labelled rows,
    ///   fewer than two classes, targets that are not finite numbers.
    init(_ dataset: Dataset, learner: String, file: String) throws(DatasetError) {
        try Self.checkShape(dataset, file: file)
        switch dataset.targets {
        case .classes(let ids):
            rows = ids.indices.filter { ids[$0] >= 0 }
            guard !rows.isEmpty else { throw DatasetError(file: file, "the training set has no labelled rows") }
            let largest = Int(ids.max() ?? 0)
            guard largest < Int(Int32.max) else { throw DatasetError(file: file, "class id \(largest) is too large") }
            task = .classification
            classCount = max(dataset.classes.count, largest + 1)
            classes = rows.map { Int32(ids[$0]) }
            targets = []
            guard Set(classes).count >= 2 else {
                throw DatasetError(file: file, "\(learner) needs labelled rows of at least two classes, but every labelled row is of one class")
            }
        case .values(let values):
            guard !values.isEmpty else { throw DatasetError(file: file, "the training set has no rows") }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw DatasetError(file: file, "the target of row \(bad) is \(values[bad]), not a finite number")
            }
            rows = Array(values.indices)
            task = .regression
            classCount = 1
            classes = []
            targets = values
        }
    }

    static func checkShape(_ dataset: Dataset, file: String) throws(DatasetError) {
        guard dataset.featureCount > 0 else { throw DatasetError(file: file, "the dataset has no features; it needs at least one") }
        guard dataset.features.count == dataset.rowCount * dataset.featureCount else {
            throw DatasetError(file: file, "\(dataset.features.count) values are not \(dataset.rowCount) rows of \(dataset.featureCount) features")
        }
    }

    var outputCount: Int { task == .classification ? classCount : 1 }
}

/// A validation set's labelled rows, checked against the training data, for the scores reported
/// during training: accuracy, or the negative mean squared error.
struct TreeValidationData: Sendable {
    /// The labelled rows' features, row-major.
    var features: [Float]
    var rowCount: Int
    var classes: [Int32]
    var targets: [Double]

    /// - Throws: ``DatasetError`` when the validation set's features or targets are not like the
    ///   training set's.
    init(_ dataset: Dataset, like training: TreeTrainingData, featureCount: Int, file: String) throws(DatasetError) {
        try TreeTrainingData.checkShape(dataset, file: file)
        guard dataset.featureCount == featureCount else {
            throw DatasetError(file: file, "the validation set has \(dataset.featureCount) features; the training set has \(featureCount)")
        }
        switch (training.task, dataset.targets) {
        case (.classification, .classes(let ids)):
            let rows = ids.indices.filter { ids[$0] >= 0 }
            if let bad = rows.first(where: { ids[$0] >= Int64(training.classCount) }) {
                throw DatasetError(file: file, "validation row \(bad) has class id \(ids[bad]), beyond the training set's \(training.classCount) classes")
            }
            features = dataset.rows(rows).features
            rowCount = rows.count
            classes = rows.map { Int32(ids[$0]) }
            targets = []
        case (.regression, .values(let values)):
            features = dataset.features
            rowCount = values.count
            classes = []
            targets = values
        default:
            throw DatasetError(file: file, "the validation set's targets are not \(training.task == .classification ? "classes" : "numbers") like the training set's")
        }
    }

    /// Accuracy of the largest score per row, or the negative mean squared error of the values:
    /// `scores` holds `width` per row.
    func score(_ scores: [Double], width: Int) -> Double {
        guard rowCount > 0 else { return 0 }
        if classes.isEmpty {
            var squared = 0.0
            for row in 0..<rowCount {
                let delta = scores[row * width] - targets[row]
                squared += delta * delta
            }
            return -squared / Double(rowCount)
        }
        var correct = 0
        for row in 0..<rowCount {
            var best = 0
            for output in 1..<width where scores[row * width + output] > scores[row * width + best] { best = output }
            if best == Int(classes[row]) { correct += 1 }
        }
        return Double(correct) / Double(rowCount)
    }
}

enum TreeRandom {
    /// The seed of tree `index`'s own random stream: a mix of the learner's seed and the index, so
    /// that each tree draws the same numbers whichever thread grows it and whenever.
    static func seed(_ seed: UInt64, tree index: Int) -> UInt64 {
        var z = seed ^ ((UInt64(truncatingIfNeeded: index) &+ 1) &* 0xD1B5_4A32_D192_ED03)
        for _ in 0..<2 {
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
        }
        return z
    }
}

enum TreeParallel {
    /// Calls `body` for each index in 0..<count, on `threads` threads taking the next index as they
    /// become free.
    static func forEachIndex(_ count: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            for index in 0..<count { body(index) }
            return
        }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if index >= count { return }
                body(index)
            }
        }
    }

    /// The sum of `body` over blocks of `blockSize` indices covering 0..<count, the blocks computed
    /// on `threads` threads and added in block order: the same for any thread count.
    static func blockSum(_ count: Int, blockSize: Int = 8192, threads: Int, _ body: @Sendable (Range<Int>) -> Double) -> Double {
        let blocks = (count + blockSize - 1) / blockSize
        var sums = [Double](repeating: 0, count: blocks)
        sums.withUnsafeMutableBufferPointer { pointer in
            nonisolated(unsafe) let sumsOut = pointer
            Parallel.forEachPart(blocks, parts: threads) { _, range in
                for block in range { sumsOut[block] = body((block * blockSize)..<min(count, (block + 1) * blockSize)) }
            }
        }
        return sums.reduce(0, +)
    }
}
