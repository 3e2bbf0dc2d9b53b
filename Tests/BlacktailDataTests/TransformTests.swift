@testable import BlacktailData
import Foundation
import Testing

@Suite struct TransformTests {
    private func iris() throws -> Dataset {
        let scratch = try Scratch()
        var importer = CSVImporter(label: "species")
        importer.scratchDirectory = scratch.url.path
        try importer.run(csv: datasetPath("iris.csv"), to: scratch.path("iris.h5"))
        return try DatasetFile.read(scratch.path("iris.h5"))
    }

    @Test func stratifiedSplitKeepsEachClassShareAndIsDeterministic() throws {
        let dataset = try iris()
        let split = DatasetSplit(train: 0.8, validation: 0, test: 0.2, stratify: true, seed: 0)
        let parts = try split.indices(for: dataset)
        #expect(parts.train.count == 120)
        #expect(parts.test.count == 30)
        #expect(parts.validation.isEmpty)
        #expect(Set(parts.train).isDisjoint(with: parts.test))
        #expect(Set(parts.train + parts.test) == Set(0..<150))
        let ids = dataset.classIDs!
        for classID in Int64(0)...2 {
            #expect(parts.test.count { ids[$0] == classID } == 10)
        }
        #expect(try split.indices(for: dataset) == parts)
        var reseeded = split
        reseeded.seed = 1
        #expect(try reseeded.indices(for: dataset).test != parts.test)
    }

    @Test func threeWaySplitsAddUpExactly() throws {
        let dataset = try iris()
        let parts = try DatasetSplit(train: 0.7, validation: 0.1, test: 0.2, seed: 3).indices(for: dataset)
        #expect((parts.train.count, parts.validation.count, parts.test.count) == (105, 15, 30))
        let unstratified = try DatasetSplit(train: 0.5, validation: 0.25, test: 0.25, stratify: false, seed: 3).indices(for: dataset)
        #expect(unstratified.train.count + unstratified.validation.count + unstratified.test.count == 150)
        #expect(throws: DatasetError.self) { try DatasetSplit(train: 0.5, validation: 0.1, test: 0.1).indices(for: dataset) }
    }

    @Test func largestRemaindersAllocateExactCounts() {
        #expect(DatasetSplit.allocate(10, over: [5, 5, 5], total: 15) == [4, 3, 3])
        #expect(DatasetSplit.allocate(3, over: [1, 1, 10], total: 12) == [0, 0, 3])
        #expect(DatasetSplit.allocate(0, over: [4], total: 4) == [0])
    }

    @Test func scalingIsFittedOnTrainAndAppliedToTest() throws {
        let dataset = try iris()
        let parts = try DatasetSplit(seed: 0).indices(for: dataset)
        let train = dataset.rows(parts.train)
        let test = dataset.rows(parts.test)
        let scaler = Scaler(fitting: train, method: .standard)
        let scaledTrain = try scaler.apply(to: train)
        for column in 0..<4 {
            let values = (0..<scaledTrain.rowCount).map { Double(scaledTrain.features[$0 * 4 + column]) }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4)
        }
        // The test rows are scaled with the training statistics, not their own.
        let scaledTest = try scaler.apply(to: test)
        let testOwn = try Scaler(fitting: test, method: .standard).apply(to: test)
        #expect(scaledTest.features != testOwn.features)
        #expect(scaledTest.features[0] == Float((Double(test.features[0]) - scaler.offset[0]) / scaler.scale[0]))
        let minmax = try Scaler(fitting: train, method: .minmax).apply(to: train)
        #expect(minmax.features.min() == 0)
        #expect(minmax.features.max() == 1)
        let renamed = Dataset(features: [1], featureNames: ["other"], targets: .classes([0]), task: .classification, classes: ["a"])
        #expect(throws: DatasetError.self) { try scaler.apply(to: renamed) }
    }

    @Test func generatedDataIsSeededAndShaped() throws {
        for kind in DatasetGenerator.Kind.allCases {
            let generator = DatasetGenerator(kind: kind, rows: 1000, features: 5, classes: 4, noise: 0.1, seed: 7)
            let first = try generator.dataset()
            let second = try generator.dataset()
            #expect(first == second)
            #expect(first.rowCount == 1000)
            #expect(first.featureCount == 5)
            var other = generator
            other.seed = 8
            #expect(try other.dataset().features != first.features)
            if kind != .regression {
                #expect(Set(first.classIDs!) == [0, 1, 2, 3])
            }
        }
    }
}
