/// Seeded synthetic datasets of any size, for tests and benchmarks.
public struct DatasetGenerator: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Classes around the corners of a hypercube, with Gaussian noise.
        case classification
        /// A random linear function of the features, with Gaussian noise.
        case regression
        /// Isotropic Gaussian clusters around random centres; the targets name the cluster.
        case blobs
    }

    public var kind: Kind
    public var rows: Int
    public var features: Int
    public var classes: Int
    public var noise: Double
    public var seed: UInt64

    public init(kind: Kind, rows: Int, features: Int, classes: Int = 2, noise: Double = 0.1, seed: UInt64 = 0) {
        self.kind = kind
        self.rows = rows
        self.features = features
        self.classes = classes
        self.noise = noise
        self.seed = seed
    }

    public var task: Dataset.Task { kind == .regression ? .regression : .classification }
    public var featureNames: [String] { (0..<features).map { "x\($0)" } }
    public var classNames: [String] { task == .classification ? (0..<classes).map { "class_\($0)" } : [] }

    /// Generates the rows block by block, calling `body` with each block's features and targets
    /// (class ids, or values for regression), so any number of rows fits in bounded memory.
    public func generate(
        blockRows: Int = 8192,
        _ body: (_ features: [Float], _ targets: Dataset.Targets) throws(DatasetError) -> Void
    ) throws(DatasetError) {
        var random = SeededRandom(seed: seed)
        // Centres (blobs, classification) or weights (regression) come first from the generator.
        let centres: [[Double]] = (0..<max(classes, 1)).map { classIndex in
            (0..<features).map { column in
                switch kind {
                case .blobs: random.nextUnit() * 20 - 10
                case .classification: ((classIndex >> (column % 20)) & 1 == 1 ? 1.0 : -1.0) * 2 + random.nextUnit() * 0.5
                case .regression: random.nextNormal()
                }
            }
        }
        var produced = 0
        while produced < rows {
            let count = min(blockRows, rows - produced)
            var block: [Float] = []
            block.reserveCapacity(count * features)
            var ids: [Int64] = []
            var values: [Double] = []
            for _ in 0..<count {
                switch kind {
                case .regression:
                    var target = 0.0
                    for column in 0..<features {
                        let value = random.nextNormal()
                        block.append(Float(value))
                        target += value * centres[0][column]
                    }
                    values.append(target + noise * random.nextNormal())
                case .blobs, .classification:
                    let label = random.nextIndex(below: max(classes, 1))
                    let spread = kind == .blobs ? 1.0 : max(noise, 1e-3) * 4
                    for column in 0..<features {
                        block.append(Float(centres[label][column] + spread * random.nextNormal()))
                    }
                    ids.append(Int64(label))
                }
            }
            try body(block, kind == .regression ? .values(values) : .classes(ids))
            produced += count
        }
    }

    /// The whole dataset in memory.
    public func dataset() throws(DatasetError) -> Dataset {
        var features: [Float] = []
        var ids: [Int64] = []
        var values: [Double] = []
        try generate { (block: [Float], targets: Dataset.Targets) throws(DatasetError) in
            features += block
            switch targets {
            case .classes(let blockIDs): ids += blockIDs
            case .values(let blockValues): values += blockValues
            }
        }
        return Dataset(
            features: features, featureNames: featureNames,
            targets: task == .regression ? .values(values) : .classes(ids),
            task: task, classes: classNames, provenance: provenance
        )
    }

    public var provenance: Dataset.Provenance {
        Dataset.Provenance(sourceSHA256: "", source: "generated \(kind.rawValue): \(rows) x \(features), \(classes) classes, noise \(noise), seed \(seed)", createdBy: "data/generate@1")
    }
}
