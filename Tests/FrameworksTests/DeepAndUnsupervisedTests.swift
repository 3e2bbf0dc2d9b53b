import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
import Testing

@Suite struct MultilayerPerceptronTests {
    @Test(arguments: [
        ("iris.csv", "species", 0.93),
        ("wine.csv", "cultivar", 0.93),
        ("breast_cancer.csv", "diagnosis", 0.95),
        ("digits.csv", "digit", 0.96),
    ])
    func reachesTheQualityBar(file: String, label: String, minimum: Double) throws {
        let (train, test) = try prepared(file, label: label)
        let trainer = MultilayerPerceptron.forQualityBar
        let (network, state) = trainer.start(inputs: train.featureCount, outputs: train.classes.count, output: .softmax)
        let (model, _) = try trainer.train(train, from: network, state: state)
        let metrics = Metrics.classification(probabilities: model.outputs(test.featureMatrix), labels: test.classIDs!)
        #expect(metrics["accuracy"]! >= minimum, "\(file): accuracy \(metrics["accuracy"]!)")
    }

    @Test(arguments: [MultilayerPerceptron.Optimizer.adam, .sgd])
    func anInterruptedTrainingEndsBitForBitLikeAnUninterruptedOne(optimizer: MultilayerPerceptron.Optimizer) throws {
        let (train, test) = try prepared("wine.csv", label: "cultivar")
        var trainer = MultilayerPerceptron()
        trainer.hidden = [16, 8]
        trainer.epochs = 12
        trainer.patience = 3
        trainer.optimizer = optimizer
        trainer.learningRate = optimizer == .adam ? 0.01 : 0.05
        trainer.schedule = .cosine
        let (network, start) = trainer.start(inputs: train.featureCount, outputs: 3, output: .softmax)
        let uninterrupted = try trainer.train(train, validation: test, from: network, state: start)

        // Stop after 5 epochs, save a checkpoint, read it back, and go on.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let info = ModelInfo(
            framework: "mlp", task: .classification, featureNames: train.featureNames, classes: train.classes, targetName: "",
            hyperparameters: [("epochs", .int(12))], createdBy: "train/mlp@1", preprocessing: nil
        )
        let partial = try trainer.train(train, validation: test, from: network, state: start, stopAfter: 5)
        #expect(partial.state.epoch == 5)
        let halfway = folder.appendingPathComponent("halfway.h5").path
        try Checkpoint.write(.network(partial.model), info: info, state: partial.state, to: halfway)
        let (restored, _, restoredState) = try Checkpoint.read(halfway)
        guard case .network(let restoredModel) = restored, let restoredState else {
            Issue.record("the checkpoint lost its network or state")
            return
        }
        #expect(restoredState == partial.state)
        let resumed = try trainer.train(train, validation: test, from: restoredState.current ?? restoredModel, state: restoredState)
        #expect(resumed.model == uninterrupted.model)
        #expect(resumed.state == uninterrupted.state)

        // And the final checkpoints are the same bytes.
        let a = folder.appendingPathComponent("a.h5").path
        let b = folder.appendingPathComponent("b.h5").path
        try Checkpoint.write(.network(uninterrupted.model), info: info, state: uninterrupted.state, to: a)
        try Checkpoint.write(.network(resumed.model), info: info, state: resumed.state, to: b)
        #expect(try DatasetFile.sha256(ofFile: a) == DatasetFile.sha256(ofFile: b))
    }

    @Test func regressionAndEarlyStopping() throws {
        let (train, test) = try prepared("diabetes.csv", label: "progression", stratify: false)
        var trainer = MultilayerPerceptron()
        trainer.hidden = [16]
        trainer.learningRate = 0.01
        trainer.epochs = 300
        trainer.patience = 5
        let (network, state) = trainer.start(inputs: train.featureCount, outputs: 1, output: .identity)
        let (model, final) = try trainer.train(train, validation: test, from: network, state: state)
        #expect(final.stopped)
        #expect(final.epoch < 300)
        guard case .values(let targets) = test.targets else { return }
        let metrics = Metrics.regression(predictions: model.outputs(test.featureMatrix).values.map(Double.init), targets: targets)
        #expect(metrics["r2"]! > 0.3, "R² \(metrics["r2"]!)")
    }
}

extension MultilayerPerceptron {
    /// The settings the quality bars are measured with.
    static var forQualityBar: MultilayerPerceptron {
        var trainer = MultilayerPerceptron()
        trainer.hidden = [64]
        trainer.learningRate = 0.003
        trainer.epochs = 60
        trainer.batchSize = 32
        return trainer
    }
}

@Suite struct UnsupervisedTests {
    @Test func kMeansIsWithinTwoPercentOfTheBestOfTenRestarts() throws {
        let (train, _) = try prepared("digits.csv", label: "digit")
        let features = train.featureMatrix
        var single = KMeans(k: 10)
        single.restarts = 1
        let one = try single.fit(features)
        let ten = try KMeans(k: 10).fit(features)
        #expect(ten.inertia <= one.inertia)
        #expect(one.inertia <= ten.inertia * 1.02, "one run \(one.inertia), best of ten \(ten.inertia)")
        #expect(try KMeans(k: 10).fit(features) == ten)
    }

    @Test func pcaMatchesNumpysEigenDecomposition() throws {
        let (train, _) = try prepared("digits.csv", label: "digit")
        let model = try PrincipalComponents.fit(train.featureMatrix, components: 10)
        // numpy's eigh on the same covariance, from the same float32 values.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-pca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("x.bin")
        try train.features.withUnsafeBytes { Data($0) }.write(to: input)
        let script = "import sys, numpy as np; x = np.fromfile(sys.argv[1], dtype=np.float32).astype(np.float64).reshape(-1, int(sys.argv[2])); " +
            "v = np.linalg.eigh(np.cov(x, rowvar=False))[0][::-1]; print(' '.join(repr(float(a)) for a in v[:10]))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, input.path, String(train.featureCount)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let expected = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(expected.count == 10)
        for (ours, theirs) in zip(model.explainedVariance, expected) {
            #expect(abs(ours - theirs) < 1e-4, "\(ours) against \(theirs)")
        }
        // The components are orthonormal.
        let gram = Matrix.product(model.components, model.components, transposeB: true)
        for i in 0..<10 {
            for j in 0..<10 { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-4) }
        }
    }
}
