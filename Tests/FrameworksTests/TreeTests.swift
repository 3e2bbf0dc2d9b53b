import BlacktailData
import Foundation
import Frameworks
import HDF5
import BlacktailNumerics
import Testing

/// The test accuracy of an ensemble on a prepared split.
private func accuracy(_ model: TreeEnsemble, _ test: Dataset) -> Double {
    Metrics.classification(probabilities: model.outputs(test.featureMatrix, threads: 2), labels: test.classIDs!)["accuracy"]!
}

/// The R² of a regression ensemble on a prepared split.
private func rSquared(_ model: TreeEnsemble, _ test: Dataset) throws -> Double {
    guard case .values(let targets) = test.targets else { throw DatasetError(file: "", "regression targets expected") }
    return Metrics.regression(predictions: model.outputs(test.featureMatrix).values.map(Double.init), targets: targets)["r2"]!
}

/// A temporary folder, removed after `body`.
private func withFolder<Result>(_ body: (URL) throws -> Result) throws -> Result {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-trees-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

@Suite struct TreeTests {
    @Test func aDecisionTreeFitsXORExactly() throws {
        // Four clusters on the corners of a square, labelled by the sign of x·y: no single split
        // helps, so the tree must accept a first split that gains nothing.
        var random = SeededRandom(seed: 5)
        var features: [Float] = []
        var labels: [Int64] = []
        for _ in 0..<200 {
            let x = Float(random.nextUnit() * 2 - 1)
            let y = Float(random.nextUnit() * 2 - 1)
            features += [x, y, Float(random.nextUnit())]
            labels.append(x * y > 0 ? 1 : 0)
        }
        let dataset = Dataset(features: features, featureNames: ["x", "y", "noise"], targets: .classes(labels), task: .classification, classes: ["a", "b"])
        for criterion in [DecisionTreeLearner.Criterion.gini, .entropy] {
            var learner = DecisionTreeLearner()
            learner.criterion = criterion
            let model = try learner.fit(dataset)
            try model.validate()
            #expect(model.trees.count == 1)
            #expect(accuracy(model, dataset) == 1)
            // Rows exactly on a threshold go left, as the bins were built.
            let tree = model.trees[0]
            let root = Int(tree.feature[0])
            var onThreshold = [Float](repeating: 0.5, count: 3)
            onThreshold[root] = tree.threshold[0]
            let leaf = tree.leaf(for: onThreshold)
            var walk = Int(tree.left[0])
            while tree.feature[walk] >= 0 {
                walk = Int(onThreshold[Int(tree.feature[walk])] <= tree.threshold[walk] ? tree.left[walk] : tree.right[walk])
            }
            #expect(leaf == walk)
        }
        // An axis-aligned step: one split, at the gap.
        let step = Dataset(
            features: [0, 1, 2, 3, 10, 11, 12, 13], featureNames: ["x"], targets: .classes([0, 0, 0, 0, 1, 1, 1, 1]),
            task: .classification, classes: ["low", "high"]
        )
        let stump = try DecisionTreeLearner().fit(step).trees[0]
        #expect(stump.nodeCount == 3 && stump.depth == 1)
        #expect(stump.threshold[0] > 3 && stump.threshold[0] < 10)
        #expect(Array(stump.values(ofNode: Int(stump.left[0]))) == [1, 0])
    }

    @Test func binsFollowTheDistinctValuesAndNaNGoesRight() throws {
        let features: [Float] = [1, 1, 2, 3, 3, 3, 7, .nan]
        let dataset = Dataset(features: features, featureNames: ["x"], targets: .values([1, 1, 2, 3, 3, 3, 7, 7]), task: .regression)
        let bins = BinnedFeatures(dataset)
        #expect(bins.thresholds == [[1.5, 2.5, 5]])
        #expect(bins.codes == [0, 0, 1, 2, 2, 2, 3, 3])
        // More distinct values than bins: quantile edges, strictly increasing, every bin used.
        let many = Dataset(features: (0..<1000).map { Float($0 % 97) * 0.5 }, featureNames: ["x"], targets: .values([Double](repeating: 0, count: 1000)), task: .regression)
        let coarse = BinnedFeatures(many, maxBins: 16)
        #expect(coarse.binCount(0) == 16)
        #expect(zip(coarse.thresholds[0], coarse.thresholds[0].dropFirst()).allSatisfy { $0 < $1 })
        #expect(Set(coarse.codes).count == 16)
        // A tree trained with NaN in the data does not crash, and sends NaN right.
        let model = try DecisionTreeLearner().fit(dataset)
        let tree = model.trees[0]
        #expect(tree.leaf(for: [Float.nan]) == tree.leaf(for: [Float.greatestFiniteMagnitude]))
        let outputs = model.outputs(Matrix(rows: 1, columns: 1, values: [.nan]))
        #expect(outputs.values.allSatisfy { $0.isFinite })
    }

    @Test func aRandomForestReachesTheQualityBarOnDigits() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        var forest = RandomForest()
        forest.threads = 2
        var reports: [Int] = []
        let model = try forest.fit(train, validation: test) { reports.append($0.epoch) }
        try model.validate(featureCount: train.featureCount)
        #expect(reports == Array(1...100))
        let score = accuracy(model, test)
        #expect(score >= 0.95, "digits: random forest accuracy \(score)")
        let outOfBag = try forest.outOfBagScore(of: model, on: train)
        #expect(outOfBag >= 0.9, "out-of-bag accuracy \(outOfBag)")
    }

    @Test func gradientBoostedTreesReachTheQualityBarOnDigits() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        var boosted = GradientBoostedTrees()
        boosted.threads = 2
        var losses: [Double] = []
        let model = try boosted.fit(train) { losses.append($0.loss) }
        try model.validate(featureCount: train.featureCount)
        #expect(model.trees.count == 100 * 10)
        #expect(losses.count == 100 && zip(losses, losses.dropFirst()).allSatisfy { $0 > $1 })
        let score = accuracy(model, test)
        #expect(score >= 0.94, "digits: boosted trees accuracy \(score)")
    }

    @Test(arguments: [("iris.csv", "species", 0.9), ("breast_cancer.csv", "diagnosis", 0.93), ("wine.csv", "cultivar", 0.9)])
    func smallClassificationSets(file: String, label: String, minimum: Double) throws {
        let (train, test) = try prepared(file, label: label)
        var forest = RandomForest()
        forest.trees = 30
        var boosted = GradientBoostedTrees()
        boosted.iterations = 30
        boosted.minSamplesLeaf = 5
        let tree = try DecisionTreeLearner().fit(train)
        // A single tree varies more with the rows it is grown on.
        for (name, model, floor) in [("forest", try forest.fit(train), minimum), ("boosted", try boosted.fit(train), minimum), ("tree", tree, 0.8)] {
            let score = accuracy(model, test)
            #expect(score >= floor, "\(file): \(name) accuracy \(score)")
        }
    }

    @Test func regressionOnDiabetes() throws {
        let (train, test) = try prepared("diabetes.csv", label: "progression", stratify: false)
        var forest = RandomForest()
        forest.trees = 30
        forest.minSamplesLeaf = 5
        let forestModel = try forest.fit(train)
        #expect(forestModel.task == .regression && forestModel.outputCount == 1)
        var boosted = GradientBoostedTrees()
        boosted.iterations = 50
        boosted.learningRate = 0.05
        boosted.maxLeafNodes = 8
        let boostedModel = try boosted.fit(train)
        for (name, model) in [("forest", forestModel), ("boosted", boostedModel)] {
            let r2 = try rSquared(model, test)
            #expect(r2 > 0.3, "diabetes: \(name) R² \(r2)")
        }
        let outOfBag = try forest.outOfBagScore(of: forestModel, on: train)
        #expect(outOfBag > 0.2, "out-of-bag R² \(outOfBag)")
    }

    @Test func theModelIsTheSameForAnyThreadCount() throws {
        let (train, test) = try prepared("digits.csv", label: "digit")
        var forest = RandomForest()
        forest.trees = 6
        forest.threads = 1
        let single = try forest.fit(train)
        forest.threads = 3
        #expect(try forest.fit(train) == single)
        forest.seed = 1
        #expect(try forest.fit(train) != single)

        var boosted = GradientBoostedTrees()
        boosted.iterations = 3
        boosted.threads = 1
        let serial = try boosted.fit(train)
        boosted.threads = 3
        let parallel = try boosted.fit(train)
        #expect(parallel == serial)
        #expect(parallel.outputs(test.featureMatrix, threads: 3) == serial.outputs(test.featureMatrix, threads: 1))
    }

    @Test func earlyStoppingWatchesTheValidationLoss() throws {
        let (train, test) = try prepared("iris.csv", label: "species")
        var boosted = GradientBoostedTrees()
        boosted.iterations = 200
        boosted.learningRate = 0.5
        boosted.minSamplesLeaf = 5
        boosted.patience = 3
        var scores: [Double] = []
        let model = try boosted.fit(train, validation: test) { scores.append($0.validationScore!) }
        #expect(scores.count < 200)
        #expect(model.trees.count == scores.count * 3)
        #expect(abs(scores.last! - accuracy(model, test)) < 1e-12)
    }

    @Test func ensemblesRoundTripThroughHDF5() throws {
        let (train, _) = try prepared("wine.csv", label: "cultivar")
        var forest = RandomForest()
        forest.trees = 5
        var boosted = GradientBoostedTrees()
        boosted.iterations = 4
        let regression = Dataset(
            features: train.features, featureNames: train.featureNames,
            targets: .values(train.classIDs!.map { Double($0) * 1.5 }), task: .regression
        )
        let models = [try forest.fit(train), try boosted.fit(train), try boosted.fit(regression), try DecisionTreeLearner().fit(regression)]
        try withFolder { folder in
            let path = folder.appendingPathComponent("trees.h5").path
            let file = try HDF5File.create(at: path, overwrite: true)
            for (index, model) in models.enumerated() { try model.write(to: try file.root.createGroup("model\(index)")) }
            file.close()
            try HDF5File.withFile(at: path) { file in
                for (index, model) in models.enumerated() {
                    let read = try TreeEnsemble.read(from: try file.root.group("model\(index)"), path: path, featureCount: train.featureCount)
                    #expect(read == model)
                    #expect(try file.root.group("model\(index)").dataset("values").shape[1] == model.treeOutputCount)
                }
            }
        }
    }

    @Test func malformedTreesAreRejectedWithAReason() throws {
        func problem(_ tree: DecisionTree) -> String? {
            do {
                try tree.validate()
                return nil
            } catch {
                return error.message
            }
        }
        let good = DecisionTree(feature: [0, -1, -1], threshold: [0.5, 0, 0], left: [1, -1, -1], right: [2, -1, -1], values: [0, 1, 2], outputCount: 1)
        #expect(problem(good) == nil)
        var cycle = good
        cycle.left[0] = 0
        #expect(problem(cycle) == "node 0 has child 0, which is not a node after it (there are 3 nodes)")
        var outside = good
        outside.right[0] = 7
        #expect(problem(outside)?.contains("child 7") == true)
        var shared = DecisionTree(feature: [0, 0, -1, -1], threshold: [0, 0, 0, 0], left: [1, 3, -1, -1], right: [2, 3, -1, -1], values: [0, 0, 0, 0], outputCount: 1)
        #expect(problem(shared) == "node 3 is the child of 2 nodes, not of one")
        shared.right[1] = 2
        #expect(problem(shared) == "node 2 is the child of 2 nodes, not of one")
        var short = good
        short.threshold.removeLast()
        #expect(problem(short)?.hasPrefix("the node arrays differ in length") == true)
        var values = good
        values.values.append(3)
        #expect(problem(values) == "4 values are not 1 for each of 3 nodes")
        var nan = good
        nan.values[1] = .nan
        #expect(problem(nan) == "node 1 has a value that is not a finite number")
        var negative = good
        negative.feature[0] = -2
        #expect(problem(negative) == "node 0 tests feature -2")
        #expect(throws: TreeValidationError.self) { try good.validate(featureCount: 0) }
        #expect((try? good.validate(featureCount: 1)) != nil)

        let ensemble = TreeEnsemble(kind: .boosted, task: .classification, outputCount: 2, trees: [good], baseline: [0, 0])
        #expect(throws: TreeValidationError.self) { try ensemble.validate() }

        // A corrupt checkpoint group is refused with a CheckpointError naming the problem.
        try withFolder { folder in
            let path = folder.appendingPathComponent("corrupt.h5").path
            let model = TreeEnsemble(kind: .boosted, task: .regression, outputCount: 1, trees: [good, good], baseline: [0.5])
            func readBack(featureCount: Int? = nil, _ corrupt: (HDF5Group) throws -> Void) throws -> String? {
                let file = try HDF5File.create(at: path, overwrite: true)
                let group = try file.root.createGroup("trees")
                try model.write(to: group)
                try corrupt(group)
                file.close()
                return try HDF5File.withFile(at: path) { file in
                    do {
                        _ = try TreeEnsemble.read(from: try file.root.group("trees"), path: path, featureCount: featureCount)
                        return nil
                    } catch let error as CheckpointError {
                        return error.description
                    }
                }
            }
            #expect(try readBack { _ in } == nil)
            let features = try readBack(featureCount: 10) { group in try group.dataset("feature").write([Int32(40), -1, -1, 0, -1, -1]) }
            #expect(features == "\(path): /trees: tree 0: node 0 tests feature 40, but there are 10 features")
            #expect(try readBack { group in try group.setAttribute("ensemble", .string("jungle")) }
                == "\(path): /trees: the 'ensemble' attribute is missing or not 'forest' or 'boosted'")
            let cycle = try readBack { group in try group.dataset("left").write([Int32(0), -1, -1, 1, -1, -1]) }
            #expect(cycle == "\(path): /trees: tree 0: node 0 has child 0, which is not a node after it (there are 3 nodes)")
            let childOutside = try readBack { group in try group.dataset("right").write([Int32(9), -1, -1, 2, -1, -1]) }
            #expect(childOutside == "\(path): /trees: tree 0: node 0 has child 9, which is not a node after it (there are 3 nodes)")
            let offsets = try readBack { group in try group.dataset("tree_offsets").write([Int64(0), 7, 6]) }
            #expect(offsets == "\(path): /trees: 'tree_offsets' gives tree 1 no nodes (they must increase)")
            let overrun = try readBack { group in try group.dataset("tree_offsets").write([Int64(0), 3, 60]) }
            #expect(overrun == "\(path): /trees: 'tree_offsets' must start at 0 and end at the 6 nodes, with at least one tree")
            let outputs = try readBack { group in try group.setAttribute("output_count", .int(2)) }
            #expect(outputs == "\(path): /trees: a regression ensemble has 1 output, not 2")
            let shape = try readBack { group in
                try group.setAttribute("ensemble", .string("forest"))
                try group.setAttribute("task", .string("classification"))
                try group.setAttribute("output_count", .int(3))
            }
            #expect(shape == "\(path): /trees: 'values' is 6 x 1, not 6 x 3 (nodes x values per node)")
        }
    }

    @Test func dataATreeCannotLearnFromIsRefused() throws {
        func message(_ body: () throws -> TreeEnsemble) -> String? {
            do {
                _ = try body()
                return nil
            } catch {
                return "\(error)"
            }
        }
        let unlabelled = Dataset(features: [1, 2, 3], featureNames: ["x"], targets: .classes([-1, -1, -1]), task: .classification, classes: ["a", "b"])
        #expect(message { try RandomForest().fit(unlabelled, file: "u.h5") } == "u.h5: the training set has no labelled rows")
        let oneClass = Dataset(features: [1, 2, 3], featureNames: ["x"], targets: .classes([1, 1, -1]), task: .classification, classes: ["a", "b"])
        #expect(message { try GradientBoostedTrees().fit(oneClass, file: "o.h5") }
            == "o.h5: gradient boosting needs labelled rows of at least two classes, but every labelled row is of one class")
        let values = Dataset(features: [1, 2, 3], featureNames: ["x"], targets: .values([1, 2, 3]), task: .regression)
        var gini = DecisionTreeLearner()
        gini.criterion = .gini
        #expect(message { try gini.fit(values, file: "v.h5") } == "v.h5: the gini criterion is for classification, but the targets are numbers")
        var bins = GradientBoostedTrees()
        bins.maxBins = 300
        #expect(message { try bins.fit(values) } == ": max bins 300 is not between 2 and 255")
        // Unlabelled rows are left out, not learned as a class.
        let partly = Dataset(
            features: [0, 1, 2, 3, 10, 11, 12, 13, 5], featureNames: ["x"], targets: .classes([0, 0, 0, 0, 1, 1, 1, 1, -1]),
            task: .classification, classes: ["low", "high"]
        )
        let model = try DecisionTreeLearner().fit(partly)
        #expect(model.outputCount == 2 && model.trees[0].leafCount == 2)
    }
}
