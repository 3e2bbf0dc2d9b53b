import BlacktailData
import Foundation
import Frameworks
import HDF5
import BlacktailNumerics
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A dataset in datasets/, imported, split 80/20 (stratified for classification, seed 0) and
/// standardised with the training rows' statistics.
func prepared(_ file: String, label: String, stratify: Bool = true) throws -> (train: Dataset, test: Dataset) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-frameworks-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    var importer = CSVImporter(label: label)
    importer.scratchDirectory = folder.path
    let output = folder.appendingPathComponent("data.h5").path
    try importer.run(csv: repositoryRoot.appendingPathComponent("datasets/\(file)").path, to: output)
    let dataset = try DatasetFile.read(output)
    let parts = try DatasetSplit(train: 0.8, validation: 0, test: 0.2, stratify: stratify, seed: 0).indices(for: dataset)
    let scaler = Scaler(fitting: dataset.rows(parts.train), method: .standard)
    return (try scaler.apply(to: dataset.rows(parts.train)), try scaler.apply(to: dataset.rows(parts.test)))
}


@Suite struct MatrixTests {
    @Test func productsMatchTheDefinition() {
        var random = SeededRandom(seed: 3)
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 9, 13), (64, 33, 10)] {
            let a = Matrix(rows: m, columns: k, values: (0..<(m * k)).map { _ in Float(random.nextUnit() * 2 - 1) })
            let b = Matrix(rows: k, columns: n, values: (0..<(k * n)).map { _ in Float(random.nextUnit() * 2 - 1) })
            let product = Matrix.product(a, b)
            for i in 0..<m {
                for j in 0..<n {
                    let expected = (0..<k).map { Double(a[i, $0]) * Double(b[$0, j]) }.reduce(0, +)
                    #expect(abs(Double(product[i, j]) - expected) < 1e-4)
                }
            }
            // Transposed operands take other kernels: the same values up to rounding.
            for other in [Matrix.product(a.transposed, b, transposeA: true), Matrix.product(a, b.transposed, transposeB: true)] {
                #expect(zip(other.values, product.values).allSatisfy { abs($0 - $1) < 1e-5 })
            }
        }
    }

    @Test func softmaxAndArgmax() {
        var scores = Matrix(rows: 2, columns: 3, values: [1, 2, 3, 1000, 1000, -1000])
        scores.softmaxRows()
        #expect(abs(scores.row(0).reduce(0, +) - 1) < 1e-6)
        #expect(scores[1, 0] == 0.5 && scores[1, 2] == 0)
        #expect(scores.argmaxRows() == [2, 0])
    }
}

@Suite struct LinearRegressionTests {
    @Test func recoversAnExactLinearFunction() throws {
        var random = SeededRandom(seed: 1)
        let rows = 200
        var features: [Float] = []
        var targets: [Double] = []
        for _ in 0..<rows {
            let x = (0..<3).map { _ in Float(random.nextUnit() * 4 - 2) }
            features += x
            targets.append(2 * Double(x[0]) - 3 * Double(x[1]) + 0.5 * Double(x[2]) + 7)
        }
        let dataset = Dataset(features: features, featureNames: ["a", "b", "c"], targets: .values(targets), task: .regression)
        let model = try LinearRegression.fit(dataset, l2: 0)
        #expect(zip(model.layers[0].weights.values, [Float(2), -3, 0.5]).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(abs(model.layers[0].bias[0] - 7) < 1e-4)
        // A copied feature without a penalty cannot be solved; with one it can.
        let copied = Dataset(features: features.enumerated().map { $0.offset % 3 == 2 ? features[$0.offset - 1] : $0.element }, featureNames: ["a", "b", "c"], targets: .values(targets), task: .regression)
        #expect(throws: DatasetError.self) { try LinearRegression.fit(copied, l2: 0) }
        #expect(try LinearRegression.fit(copied, l2: 0.1).layers[0].weights.rows == 3)
    }

    @Test func diabetesRidgeReachesTheQualityBar() throws {
        let (train, test) = try prepared("diabetes.csv", label: "progression", stratify: false)
        let model = try LinearRegression.fit(train, l2: 1)
        guard case .values(let targets) = test.targets else { Issue.record("regression targets expected"); return }
        let metrics = Metrics.regression(predictions: model.outputs(test.featureMatrix).values.map(Double.init), targets: targets)
        #expect(metrics["r2"]! >= 0.40, "R² \(metrics["r2"]!)")
    }
}

@Suite struct LogisticRegressionTests {
    @Test(arguments: [
        ("iris.csv", "species", 0.93),
        ("wine.csv", "cultivar", 0.93),
        ("breast_cancer.csv", "diagnosis", 0.95),
        ("digits.csv", "digit", 0.95),
    ])
    func reachesTheQualityBar(file: String, label: String, minimum: Double) throws {
        let (train, test) = try prepared(file, label: label)
        let (model, _) = try LogisticRegression().fit(train)
        let metrics = Metrics.classification(probabilities: model.outputs(test.featureMatrix), labels: test.classIDs!)
        #expect(metrics["accuracy"]! >= minimum, "\(file): accuracy \(metrics["accuracy"]!)")
    }

    @Test func trainingIsRepeatable() throws {
        let (train, _) = try prepared("wine.csv", label: "cultivar")
        var trainer = LogisticRegression()
        trainer.epochs = 20
        let first = try trainer.fit(train)
        let second = try trainer.fit(train)
        #expect(first.model == second.model)
        #expect(first.state == second.state)
        trainer.seed = 1
        #expect(try trainer.fit(train).model != first.model)
    }
}

@Suite struct MetricsTests {
    @Test func classificationMetricsOnAKnownCase() {
        // Rows: truth 0,0,1,1; predicted 0,1,1,1.
        let probabilities = Matrix(rows: 4, columns: 2, values: [0.9, 0.1, 0.4, 0.6, 0.2, 0.8, 0.3, 0.7])
        let metrics = Metrics.classification(probabilities: probabilities, labels: [0, 0, 1, 1])
        #expect(metrics["accuracy"] == 0.75)
        #expect(metrics["confusion_0_1"] == 1 && metrics["confusion_1_1"] == 2)
        #expect(abs(metrics["precision_macro"]! - (1 + 2.0 / 3) / 2) < 1e-12)
        #expect(abs(metrics["recall_macro"]! - 0.75) < 1e-12)
        #expect(metrics["roc_auc"] == 1)
        #expect(abs(metrics["log_loss"]! - [0.9, 0.4, 0.8, 0.7].map { -log($0) }.reduce(0, +) / 4) < 1e-6)
    }

    @Test func rocAUCCountsTiesAsHalf() {
        let probabilities = Matrix(rows: 4, columns: 2, values: [0.5, 0.5, 0.5, 0.5, 0.9, 0.1, 0.1, 0.9])
        #expect(Metrics.classification(probabilities: probabilities, labels: [0, 1, 0, 1])["roc_auc"] == 0.875)
    }

    @Test func regressionMetrics() {
        let metrics = Metrics.regression(predictions: [1, 2, 3], targets: [1, 2, 5])
        #expect(abs(metrics["rmse"]! - (4.0 / 3).squareRoot()) < 1e-12)
        #expect(abs(metrics["mae"]! - 2.0 / 3) < 1e-12)
        // Targets 1, 2, 5: mean 8/3, total sum of squares 26/3; residual sum of squares 4.
        #expect(abs(metrics["r2"]! - (1 - 4 / (26.0 / 3))) < 1e-12)
    }
}

@Suite struct CheckpointErrorTests {
    @Test func filesThatAreNotTrainedModelsAreRefusedWithAReason() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-checkpoints-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func message(_ path: String) -> String? {
            do {
                _ = try Checkpoint.read(path)
                return nil
            } catch {
                return "\(error)"
            }
        }
        // A dataset is not a checkpoint.
        let dataset = folder.appendingPathComponent("data.h5").path
        try DatasetFile.write(Dataset(features: [1, 2], featureNames: ["x"], targets: .classes([0, 1]), task: .classification, classes: ["a", "b"]), to: dataset)
        #expect(message(dataset) == "\(dataset): is not a Blacktail checkpoint (its 'format' attribute is missing or different)")
        // A model of a framework this build does not read.
        let unknown = folder.appendingPathComponent("unknown.h5").path
        let (train, _) = try prepared("iris.csv", label: "species")
        let model = try LinearRegression.fit(
            Dataset(features: train.features, featureNames: train.featureNames, targets: .values(train.classIDs!.map(Double.init)), task: .regression),
            l2: 0.1
        )
        let info = ModelInfo(
            framework: "forest", task: .regression, featureNames: train.featureNames, classes: [], targetName: "",
            hyperparameters: [], createdBy: "test", preprocessing: nil
        )
        try Checkpoint.write(.network(model), info: info, to: unknown)
        try HDF5File.withFile(at: unknown, mode: .readWrite) { file in
            try file.root.group("architecture").setAttribute("model", .string("svm"))
        }
        #expect(message(unknown) == "\(unknown): has a model of kind 'svm' (framework 'forest'), which this build does not read")
        // A checkpoint written before models named their kind is read by its framework.
        try HDF5File.withFile(at: unknown, mode: .readWrite) { file in
            try file.root.group("architecture").removeAttribute("model")
        }
        #expect(message(unknown) == "\(unknown): has framework 'forest', which this build does not read")
        // The same model, named for what it is, reads back whole.
        var linear = info
        linear.framework = "linear"
        let good = folder.appendingPathComponent("linear.h5").path
        try Checkpoint.write(.network(model), info: linear, to: good)
        let (read, readInfo, _) = try Checkpoint.read(good)
        #expect(read == .network(model))
        #expect(readInfo.framework == "linear")
        // Parameters that do not fit the features named are refused, not multiplied.
        try HDF5File.withFile(at: good, mode: .readWrite) { file in
            try file.root.setAttribute("feature_names", .strings(["a", "b", "c"]))
        }
        #expect(message(good) == "\(good): the model takes 4 features, but 'feature_names' names 3")
        // A classifier whose outputs are not its classes is refused too.
        let classifier = folder.appendingPathComponent("logistic.h5").path
        var logistic = LogisticRegression()
        logistic.epochs = 2
        var classifierInfo = info
        (classifierInfo.framework, classifierInfo.task, classifierInfo.classes) = ("logistic", .classification, train.classes)
        try Checkpoint.write(.network(try logistic.fit(train).model), info: classifierInfo, to: classifier)
        #expect(message(classifier) == nil)
        try HDF5File.withFile(at: classifier, mode: .readWrite) { file in
            try file.root.setAttribute("classes", .strings(["setosa", "versicolor"]))
        }
        #expect(message(classifier) == "\(classifier): the model gives 3 class probabilities, but 'classes' names 2")
    }
}
