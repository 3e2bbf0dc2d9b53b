import BlacktailData
import Foundation
import Frameworks
import BlacktailNumerics
import Testing

/// Small and degenerate data: every learner of the families either learns something or says why,
/// and never stops the process.
@Suite struct EdgeCaseTests {
    func dataset(_ features: [Float], width: Int, classes ids: [Int64], names: [String] = ["a", "b"]) -> Dataset {
        Dataset(features: features, featureNames: (0..<width).map { "f\($0)" }, targets: .classes(ids), task: .classification, classes: names)
    }

    @Test func tinyAndConstantDataDoNotStopTheLearners() throws {
        // Two rows, one per class; constant features; more leaf rows required than there are rows.
        let two = dataset([0, 1], width: 1, classes: [0, 1])
        let constant = dataset([1, 1, 1, 1], width: 1, classes: [0, 1, 0, 1])
        for data in [two, constant] {
            var tree = DecisionTreeLearner()
            tree.minSamplesLeaf = 5
            _ = try tree.fit(data).outputs(data.featureMatrix)
            _ = try RandomForest().fit(data).outputs(data.featureMatrix)
            var boosting = GradientBoostedTrees()
            boosting.iterations = 3
            _ = try boosting.fit(data).outputs(data.featureMatrix)
            let (propagation, _) = try LabelPropagation().fit(data)
            #expect(propagation.outputs(data.featureMatrix).rows == data.rowCount)
            var rbf = LabelPropagation()
            rbf.kernel = .rbf
            _ = try rbf.fit(data).model.outputs(data.featureMatrix)
        }
        // All rows labelled: self-training has nothing to add.
        let (model, added) = try SelfTraining().fit(two, train: { .network(try LogisticRegression().fit($0).model) })
        #expect(added == 0 && model.supervised != nil)
        // One unlabelled row among labelled ones.
        let partly = dataset([0, 1, 0.5], width: 1, classes: [0, 1, -1])
        _ = try LabelPropagation().fit(partly)
        _ = try SelfTraining().fit(partly, train: { .trees(try RandomForest().fit($0)) })
    }

    @Test func aLogisticModelCanBeFineTunedWithANewHead() throws {
        let data = dataset([0, 1, 0, 1], width: 1, classes: [0, 1, 0, 1])
        let base = try LogisticRegression().fit(data).model
        var trainer = MultilayerPerceptron()
        trainer.epochs = 2
        let start = try trainer.startFineTuning(from: base, inputs: 1, outputs: 3, output: .softmax, replaceHead: false)
        #expect(start.0.outputCount == 3)
        let three = dataset([0, 1, 2], width: 1, classes: [0, 1, 2], names: ["a", "b", "c"])
        _ = try trainer.train(three, from: start.0, state: start.1)
        #expect(throws: DatasetError.self) {
            try trainer.startFineTuning(from: base, inputs: 2, outputs: 3, output: .softmax, replaceHead: true)
        }
    }

    @Test func aVoteOfOneIsItsMember() throws {
        let data = dataset([0, 1, 0, 1], width: 1, classes: [0, 1, 0, 1])
        let network = try LogisticRegression().fit(data).model
        let info = ModelInfo(framework: "logistic", task: .classification, featureNames: ["f0"], classes: ["a", "b"],
                             targetName: "", hyperparameters: [], createdBy: "test", preprocessing: nil)
        let vote = try VotingModel(members: [.init(model: .network(network), info: info)], voting: .soft)
        #expect(vote.outputs(data.featureMatrix) == network.outputs(data.featureMatrix))
    }

    @Test func theSmallestGridWorldIsSolved() throws {
        let grid = try Environments.make("grid-world", options: ["size": 2])
        let table = try QLearning().fit(grid)
        let statistics = try Episodes.evaluate(table, in: grid, episodes: 5)
        #expect(statistics.mean == -Double((grid as! GridWorld).optimalSteps!))
    }
}
