public import HDF5

/// Feature scaling fitted on one dataset and applied to others: `(x - offset) / scale`, column by
/// column. Saved in a model checkpoint's `/preprocessing` group (docs/formats.md), so a model
/// carries the scaling its inputs need.
public struct Scaler: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        /// Zero mean and unit variance (population standard deviation).
        case standard
        /// The fitted minimum to 0 and maximum to 1.
        case minmax
    }

    public var method: Method
    public var featureNames: [String]
    public var offset: [Double]
    public var scale: [Double]

    /// Fits the scaling on `dataset`'s features, in double precision. A constant column gets scale 1.
    public init(fitting dataset: Dataset, method: Method) {
        let width = dataset.featureCount
        let rows = dataset.rowCount
        var offset = [Double](repeating: 0, count: width)
        var scale = [Double](repeating: 1, count: width)
        switch method {
        case .standard:
            var sums = [Double](repeating: 0, count: width)
            for row in 0..<rows {
                for column in 0..<width { sums[column] += Double(dataset.features[row * width + column]) }
            }
            let means = sums.map { $0 / Double(max(rows, 1)) }
            var squares = [Double](repeating: 0, count: width)
            for row in 0..<rows {
                for column in 0..<width {
                    let delta = Double(dataset.features[row * width + column]) - means[column]
                    squares[column] += delta * delta
                }
            }
            offset = means
            scale = squares.map { sum in
                let deviation = (sum / Double(max(rows, 1))).squareRoot()
                return deviation > 0 ? deviation : 1
            }
        case .minmax:
            var low = [Double](repeating: .infinity, count: width)
            var high = [Double](repeating: -.infinity, count: width)
            for row in 0..<rows {
                for column in 0..<width {
                    let value = Double(dataset.features[row * width + column])
                    low[column] = min(low[column], value)
                    high[column] = max(high[column], value)
                }
            }
            offset = low.map { $0.isFinite ? $0 : 0 }
            scale = zip(low, high).map { low, high in high - low > 0 ? high - low : 1 }
        }
        self.init(method: method, featureNames: dataset.featureNames, offset: offset, scale: scale)
    }

    public init(method: Method, featureNames: [String], offset: [Double], scale: [Double]) {
        self.method = method
        self.featureNames = featureNames
        self.offset = offset
        self.scale = scale
    }

    /// The dataset with its features scaled.
    /// - Throws: ``DatasetError`` when its features are not the ones the scaling was fitted on.
    public func apply(to dataset: Dataset, file: String = "") throws(DatasetError) -> Dataset {
        guard dataset.featureNames == featureNames else {
            throw DatasetError(file: file, "its features (\(dataset.featureCount)) are not the \(featureNames.count) the scaling was fitted on")
        }
        var scaled = dataset
        let width = featureNames.count
        for index in scaled.features.indices {
            let column = index % width
            scaled.features[index] = Float((Double(dataset.features[index]) - offset[column]) / scale[column])
        }
        return scaled
    }

    /// Writes the scaling as `/preprocessing` in a checkpoint file.
    public func write(to group: HDF5Group) throws(DatasetError) {
        try hdf5 { () throws(HDF5Error) in
            let preprocessing = try group.createGroup("preprocessing")
            try preprocessing.setAttribute("kind", .string("scaler"))
            try preprocessing.setAttribute("method", .string(method.rawValue))
            try preprocessing.setAttribute("feature_names", .strings(featureNames))
            try preprocessing.writeDataset("offset", offset)
            try preprocessing.writeDataset("scale", scale)
        }
    }

    /// Reads the scaling from a checkpoint's `/preprocessing`, or nil when it has none.
    public static func read(from group: HDF5Group) throws(DatasetError) -> Scaler? {
        try hdf5 { () throws(HDF5Error) -> Scaler? in
            guard group.contains("preprocessing") else { return nil }
            let preprocessing = try group.group("preprocessing")
            guard let methodName = try preprocessing.attribute("method")?.stringValue, let method = Method(rawValue: methodName) else {
                throw HDF5Error(.typeMismatch, file: group.file.path, object: preprocessing.path, "has no known scaling 'method'")
            }
            let names = try preprocessing.attribute("feature_names")?.stringsValue ?? []
            let offset = try preprocessing.dataset("offset").read(as: Double.self)
            let scale = try preprocessing.dataset("scale").read(as: Double.self)
            guard offset.count == scale.count, names.isEmpty || names.count == offset.count else {
                throw HDF5Error(.shapeMismatch, file: group.file.path, object: preprocessing.path, "offset, scale and feature_names differ in length")
            }
            return Scaler(method: method, featureNames: names.isEmpty ? (0..<offset.count).map { "f\($0)" } : names, offset: offset, scale: scale)
        }
    }
}
