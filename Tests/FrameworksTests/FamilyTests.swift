import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
import Testing

/// The test accuracy of a classifier.
func accuracy(_ model: any SupervisedModel, on test: Dataset) -> Double {
    Metrics.classification(probabilities: model.outputs(test.featureMatrix), labels: test.classIDs!)["accuracy"]!
}

/// `dataset` with only a stratified `share` of its rows labelled (seed 0), the others -1.
func masked(_ dataset: Dataset, keeping share: Double) throws -> Dataset {
    let kept = try DatasetSplit(train: share, validation: 0, test: 1 - share, stratify: true, seed: 0).indices(for: dataset).train
    var ids = [Int64](repeating: -1, count: dataset.rowCount)
    for row in kept { ids[row] = dataset.classIDs![row] }
    var copy = dataset
    copy.targets = .classes(ids)
    return copy
}

/// The rows of the given classes, renumbered from 0 in that order.
func only(_ classes: [Int64], of dataset: Dataset) -> Dataset {
    let ids = dataset.classIDs!
    let rows = ids.indices.filter { classes.contains(ids[$0]) }
    var selected = dataset.rows(rows)
    selected.classes = classes.map { dataset.classes[Int($0)] }
    selected.targets = .classes(rows.map { Int64(classes.firstIndex(of: ids[$0])!) })
    return selected
}

@Suite struct SemiSupervisedTests {
    @Test func selfTrainingWithATenthOfDigitsLabelledBeatsTheSameClassifierOnThoseRowsAlone() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        let partial = try masked(train, keeping: 0.1)
        let learner = LogisticRegression()
        let labelledOnly = try learner.fit(partial).model
        let (selfTrained, pseudoLabelled) = try SelfTraining().fit(partial, train: { .network(try learner.fit($0).model) })
        let baseline = accuracy(labelledOnly, on: test)
        let improved = accuracy(selfTrained.supervised!, on: test)
        #expect(pseudoLabelled > 500)
        #expect(improved > baseline, "self-training \(improved), labelled rows alone \(baseline)")
    }

    @Test func labelPropagationLabelsDigitsFromATenthOfThem() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        let partial = try masked(train, keeping: 0.1)
        let (model, iterations) = try LabelPropagation().fit(partial)
        #expect(iterations >= 1 && iterations < 1000)
        // The transduction: the unlabelled training rows get their true class.
        let truth = train.classIDs!
        let unlabelled = partial.classIDs!.indices.filter { partial.classIDs![$0] < 0 }
        let transduced = model.distributions.argmaxRows()
        let right = unlabelled.count { transduced[$0] == Int(truth[$0]) }
        #expect(Double(right) / Double(unlabelled.count) > 0.85)
        #expect(accuracy(model, on: test) > 0.85)
        // Labelled rows keep their label.
        #expect(partial.classIDs!.indices.allSatisfy { partial.classIDs![$0] < 0 || transduced[$0] == Int(truth[$0]) })
    }

    @Test func theGaussianGraphAlsoPropagates() throws {
        let (train, _) = try prepared("iris.csv", label: "species")
        let partial = try masked(train, keeping: 0.2)
        var propagation = LabelPropagation()
        propagation.kernel = .rbf
        let (model, _) = try propagation.fit(partial)
        let truth = train.classIDs!
        let transduced = model.distributions.argmaxRows()
        #expect(Double(truth.indices.count { transduced[$0] == Int(truth[$0]) }) / Double(truth.count) > 0.8)
    }

    @Test func dataWithoutLabelsIsRefused() throws {
        let (train, _) = try prepared("iris.csv", label: "species")
        var unlabelled = train
        unlabelled.targets = .classes([Int64](repeating: -1, count: train.rowCount))
        #expect(throws: DatasetError.self) { try LabelPropagation().fit(unlabelled, file: "u.h5") }
        #expect(throws: DatasetError.self) { try SelfTraining().fit(unlabelled, file: "u.h5", train: { _ in fatalError("not called") }) }
    }
}

@Suite struct TransferTests {
    /// Epochs until the validation accuracy first reaches `target`, or nil.
    func epochsToReach(_ target: Double, _ trainer: MultilayerPerceptron, _ train: Dataset, _ validation: Dataset, from start: (DenseNetwork, TrainingState)) throws -> Int? {
        var reached: Int?
        _ = try trainer.train(train, validation: validation, from: start.0, state: start.1) { epoch in
            if reached == nil, let score = epoch.validationScore, score >= target { reached = epoch.epoch }
        }
        return reached
    }

    @Test func fineTuningANewHeadReachesTheFromScratchAccuracyInFewerEpochs() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        // Pretrained on digits 0-4; the new task is telling 5-9 apart.
        var trainer = MultilayerPerceptron()
        trainer.epochs = 30
        trainer.patience = .max
        let source = only([0, 1, 2, 3, 4], of: train)
        let (network, state) = trainer.start(inputs: train.featureCount, outputs: 5, output: .softmax)
        let pretrained = try trainer.train(source, from: network, state: state).model
        let (target, targetTest) = (only([5, 6, 7, 8, 9], of: train), only([5, 6, 7, 8, 9], of: test))
        // From scratch: its best accuracy in 30 epochs, and when it first got there.
        var scratchBest = (score: 0.0, epoch: 0)
        _ = try trainer.train(target, validation: targetTest, from: trainer.start(inputs: train.featureCount, outputs: 5, output: .softmax).0,
                              state: trainer.start(inputs: train.featureCount, outputs: 5, output: .softmax).1) { epoch in
            if let score = epoch.validationScore, score > scratchBest.score { scratchBest = (score, epoch.epoch) }
        }
        // Every layer fine-tuned from the pretrained weights, with a new head.
        let start = try trainer.startFineTuning(from: pretrained, inputs: train.featureCount, outputs: 5, output: .softmax, replaceHead: true)
        #expect(start.0.layers[0] == pretrained.layers[0])
        #expect(start.0.layers[1] != pretrained.layers[1])
        let fineTuned = try epochsToReach(scratchBest.score, trainer, target, targetTest, from: start)
        #expect(fineTuned != nil, "fine-tuning never reached \(scratchBest.score)")
        #expect((fineTuned ?? .max) < scratchBest.epoch, "fine-tuned in \(fineTuned ?? -1) epochs, from scratch in \(scratchBest.epoch)")
    }

    @Test func frozenLayersDoNotMove() throws {
        let (train, _) = try prepared("iris.csv", label: "species")
        var trainer = MultilayerPerceptron()
        trainer.hidden = [8, 8]
        trainer.epochs = 5
        let (network, state) = trainer.start(inputs: train.featureCount, outputs: 3, output: .softmax)
        trainer.frozenLayers = 2
        let trained = try trainer.train(train, from: network, state: state).model
        #expect(trained.layers[0] == network.layers[0] && trained.layers[1] == network.layers[1])
        #expect(trained.layers[2] != network.layers[2])
        // The head cannot be frozen too.
        trainer.frozenLayers = 3
        #expect(throws: DatasetError.self) {
            try trainer.startFineTuning(from: network, inputs: train.featureCount, outputs: 3, output: .softmax, replaceHead: false)
        }
    }
}

@Suite struct VotingTests {
    func members(_ train: Dataset) throws -> [VotingModel.Member] {
        let info = ModelInfo(
            framework: "logistic", task: .classification, featureNames: train.featureNames, classes: train.classes,
            targetName: "", hyperparameters: [], createdBy: "test", preprocessing: nil
        )
        var mlp = MultilayerPerceptron()
        mlp.epochs = 40
        let (network, state) = mlp.start(inputs: train.featureCount, outputs: train.classes.count, output: .softmax)
        var mlpInfo = info
        mlpInfo.framework = "mlp"
        return [
            VotingModel.Member(model: .network(try LogisticRegression().fit(train).model), info: info),
            VotingModel.Member(model: .network(try mlp.train(train, from: network, state: state).model), info: mlpInfo),
        ]
    }

    @Test func hardVotesCountClassesAndSoftVotesAverageProbabilities() throws {
        func constant(_ probabilities: [Float]) -> VotingModel.Member {
            // A network whose output ignores its input: zero weights and the log-probabilities as bias.
            let layer = DenseLayer(weights: Matrix(rows: 1, columns: probabilities.count), bias: probabilities.map { Float(log(Double($0))) })
            let info = ModelInfo(framework: "mlp", task: .classification, featureNames: ["x"], classes: ["a", "b", "c"],
                                 targetName: "", hyperparameters: [], createdBy: "test", preprocessing: nil)
            return .init(model: .network(DenseNetwork(layers: [layer], output: .softmax)), info: info)
        }
        let members = [constant([0.5, 0.4, 0.1]), constant([0.5, 0.4, 0.1]), constant([0.0001, 0.9, 0.0999])]
        let row = Matrix(rows: 1, columns: 1, values: [0])
        let hard = try VotingModel(members: members, voting: .hard).outputs(row)
        #expect(hard.argmaxRows() == [0])
        #expect(abs(hard[0, 0] - 2.0 / 3) < 1e-6 && abs(hard[0, 1] - 1.0 / 3) < 1e-6)
        let soft = try VotingModel(members: members, voting: .soft).outputs(row)
        #expect(soft.argmaxRows() == [1])
        // Weights move the hard vote.
        #expect(try VotingModel(members: members, voting: .hard, weights: [1, 1, 3]).outputs(row).argmaxRows() == [1])
    }

    @Test func membersMustAgree() throws {
        let (train, _) = try prepared("iris.csv", label: "species")
        var members = try members(train)
        #expect(throws: VotingError.self) { try VotingModel(members: members, voting: .soft, weights: [1]) }
        members[1].info.classes = ["x", "y", "z"]
        #expect(throws: VotingError.self) { try VotingModel(members: members, voting: .soft) }
        #expect(throws: VotingError.self) { try VotingModel(members: [], voting: .soft) }
    }

    @Test func votingLogisticMLPAndForestOnDigitsIsAtLeastAsGoodAsItsBestMember() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        var members = try members(train)
        var forest = RandomForest()
        forest.trees = 50
        forest.threads = 2
        var info = members[0].info
        info.framework = "forest"
        members.append(VotingModel.Member(model: .trees(try forest.fit(train)), info: info))
        let best = members.map { accuracy($0.model.supervised!, on: test) }.max()!
        let soft = accuracy(try VotingModel(members: members, voting: .soft), on: test)
        #expect(soft >= best, "soft voting \(soft), best member \(best)")
    }

    @Test func anEnsembleCheckpointHoldsItsMembersWhole() throws {
        let (train, test) = try prepared("wine.csv", label: "cultivar")
        let ensemble = try VotingModel(members: try members(train), voting: .soft)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-voting-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("vote.h5").path
        let info = ModelInfo(framework: "voting", task: .classification, featureNames: train.featureNames, classes: train.classes,
                             targetName: "", hyperparameters: [("voting", .string("soft"))], createdBy: "model/vote@1", preprocessing: nil)
        try Checkpoint.write(.voting(ensemble), info: info, to: path)
        let (read, readInfo, _) = try Checkpoint.read(path)
        #expect(read == .voting(ensemble))
        #expect(readInfo == info)
        #expect(accuracy(read.supervised!, on: test) >= 0.93)
    }
}
