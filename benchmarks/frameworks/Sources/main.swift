// The Swift side of the frameworks benchmark (see benchmarks/README.md).
//
// usage: blacktail-frameworks-benchmark prepare CSV_OR_GENERATED LABEL OUTPUT_PREFIX
//        blacktail-frameworks-benchmark FRAMEWORK TRAIN.h5 TEST.h5 THREADS [EPOCHS]
// FRAMEWORK is logistic, mlp, kmeans, pca, forest or boosted. Prints "seconds score": test accuracy
// for the classifiers, inertia on the training rows for k-means, the explained variance ratio for
// PCA. EPOCHS is the number of trees for the forest and of rounds for boosted trees (100 when not
// given); the time includes predicting the test rows, as on the Python side.
import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}


let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "prepare":
        // A CSV from datasets/ (with its label column), or "generated:ROWS:FEATURES:CLASSES".
        let source = arguments[1]
        let dataset: Dataset
        if source.hasPrefix("generated:") {
            let parts = source.split(separator: ":").compactMap { Int($0) }
            dataset = try DatasetGenerator(kind: .classification, rows: parts[0], features: parts[1], classes: parts[2], noise: 1.0, seed: 0).dataset()
        } else {
            var importer = CSVImporter(label: arguments[2])
            let imported = NSTemporaryDirectory() + "/benchmark-import-\(UUID().uuidString).h5"
            try importer.run(csv: source, to: imported)
            dataset = try DatasetFile.read(imported)
            try? FileManager.default.removeItem(atPath: imported)
        }
        let parts = try DatasetSplit(train: 0.8, validation: 0, test: 0.2, stratify: true, seed: 0).indices(for: dataset)
        let scaler = Scaler(fitting: dataset.rows(parts.train), method: .standard)
        try DatasetFile.write(try scaler.apply(to: dataset.rows(parts.train)), to: arguments[3] + "-train.h5")
        try DatasetFile.write(try scaler.apply(to: dataset.rows(parts.test)), to: arguments[3] + "-test.h5")
    case let framework?:
        let train = try DatasetFile.read(arguments[1])
        let test = try DatasetFile.read(arguments[2])
        BLAS.setThreadCount(Int(arguments[3])!)
        let epochs = arguments.count > 4 ? Int(arguments[4])! : nil
        var score = 0.0
        let elapsed = try seconds {
            switch framework {
            case "logistic":
                var trainer = LogisticRegression()
                if let epochs { trainer.epochs = epochs }
                let (model, _) = try trainer.fit(train)
                score = Metrics.classification(probabilities: model.outputs(test.featureMatrix), labels: test.classIDs!)["accuracy"]!
            case "mlp":
                var trainer = MultilayerPerceptron()
                trainer.hidden = [64]
                trainer.batchSize = 64
                trainer.learningRate = 0.001
                trainer.epochs = epochs ?? 20
                let (network, state) = trainer.start(inputs: train.featureCount, outputs: train.classes.count, output: .softmax)
                let (model, _) = try trainer.train(train, from: network, state: state)
                score = Metrics.classification(probabilities: model.outputs(test.featureMatrix), labels: test.classIDs!)["accuracy"]!
            case "kmeans":
                var kmeans = KMeans(k: train.classes.count)
                kmeans.threads = Int(arguments[3])!
                let (_, inertia) = try kmeans.fit(train.featureMatrix)
                score = inertia
            case "pca":
                let model = try PrincipalComponents.fit(train.featureMatrix, components: 16)
                score = model.explainedVarianceRatio.reduce(0, +)
            case "forest":
                var forest = RandomForest()
                forest.trees = epochs ?? 100
                forest.threads = Int(arguments[3])!
                let model = try forest.fit(train)
                score = Metrics.classification(probabilities: model.outputs(test.featureMatrix, threads: forest.threads), labels: test.classIDs!)["accuracy"]!
            case "boosted":
                var boosted = GradientBoostedTrees()
                boosted.iterations = epochs ?? 100
                boosted.threads = Int(arguments[3])!
                let model = try boosted.fit(train)
                score = Metrics.classification(probabilities: model.outputs(test.featureMatrix, threads: boosted.threads), labels: test.classIDs!)["accuracy"]!
            default:
                FileHandle.standardError.write(Data("unknown framework \(framework)\n".utf8))
                exit(64)
            }
        }
        print(String(format: "%.4f %.6f", elapsed, score))
    case nil:
        FileHandle.standardError.write(Data("usage: blacktail-frameworks-benchmark prepare|logistic|mlp|kmeans|pca|forest|boosted ...\n".utf8))
        exit(64)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
