import BlacktailData
import Foundation
import HDF5
import Testing

@Suite struct DatasetFileTests {
    static let iris = Dataset(
        features: [5.1, 3.5, 1.4, 0.2, 7.0, 3.2, 4.7, 1.4, 6.3, 3.3, 6.0, 2.5],
        featureNames: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        targets: .classes([0, 1, 2]),
        task: .classification,
        classes: ["setosa", "versicolor", "virginica"],
        targetName: "species",
        provenance: .init(sourceSHA256: String(repeating: "ab", count: 32), source: "iris.csv", createdBy: "data/import-csv@1")
    )

    @Test func roundTripsWithEveryAttribute() throws {
        let scratch = try Scratch()
        for compression in [nil, 4] {
            let path = scratch.path("iris-\(compression ?? 0).h5")
            try DatasetFile.write(Self.iris, to: path, compression: compression)
            #expect(try DatasetFile.read(path) == Self.iris)
            let reader = try DatasetReader(path: path)
            #expect(try reader.readRows(1..<3).rows([0, 1]) == Self.iris.rows([1, 2]))
            #expect(try reader.readRows(at: [2, 0, 2]) == Self.iris.rows([2, 0, 2]))
            reader.close()
        }
        let regression = Dataset(features: [1, 2, 3], featureNames: ["x"], targets: .values([0.5, -1, 1e10]), task: .regression)
        try DatasetFile.write(regression, to: scratch.path("r.h5"))
        #expect(try DatasetFile.read(scratch.path("r.h5")) == regression)
    }

    @Test func theSameDatasetGivesTheSameBytes() throws {
        let scratch = try Scratch()
        try DatasetFile.write(Self.iris, to: scratch.path("a.h5"))
        try DatasetFile.write(Self.iris, to: scratch.path("b.h5"))
        #expect(try DatasetFile.sha256(ofFile: scratch.path("a.h5")) == DatasetFile.sha256(ofFile: scratch.path("b.h5")))
    }

    @Test func layoutErrorsNameTheObject() throws {
        let scratch = try Scratch()
        func make(_ name: String, _ build: (HDF5Group) throws -> Void) throws -> String {
            let path = scratch.path(name)
            let file = try HDF5File.create(at: path)
            try build(try file.root)
            file.close()
            return path
        }
        func message(_ path: String) -> String? {
            do {
                _ = try DatasetFile.read(path)
                return nil
            } catch {
                return error.description
            }
        }
        let noFeatures = try make("none.h5") { try $0.writeDataset("targets", [Int64(1)]) }
        #expect(message(noFeatures) == "\(noFeatures): /features: missing: a Blacktail dataset has /features (N x D) and /targets (N)")
        let flat = try make("flat.h5") { try $0.writeDataset("features", [Float(1), 2]) }
        #expect(message(flat) == "\(flat): /features: must be 2-dimensional (N x D), but its shape is [2]")
        let short = try make("short.h5") { root in
            try root.writeDataset("features", [Float](repeating: 0, count: 6), shape: [3, 2])
            try root.writeDataset("targets", [Int64(0), 1])
        }
        #expect(message(short) == "\(short): /targets: has 2 rows, but /features has 3")
        let text = try make("text.h5") { root in
            try root.writeDataset("features", [Float](repeating: 0, count: 2), shape: [1, 2])
            try root.writeDataset("targets", strings: ["a"])
        }
        #expect(message(text) == "\(text): /targets: must hold numbers, not string")
        let badClass = try make("class.h5") { root in
            try root.writeDataset("features", [Float](repeating: 0, count: 2), shape: [2, 1])
            try root.writeDataset("targets", [Int64(0), 5])
            try root.setAttribute("classes", .strings(["a", "b"]))
        }
        #expect(message(badClass) == "\(badClass): /targets: class id 5 is not -1 (unlabelled) or one of the 2 classes")
        let names = try make("names.h5") { root in
            try root.writeDataset("features", [Float](repeating: 0, count: 2), shape: [1, 2])
            try root.setAttribute("feature_names", .strings(["only-one"]))
        }
        #expect(message(names) == "\(names): / (feature_names): names 1 features, but /features has 2 columns")
        let notHDF5 = try scratch.file("notes.h5", "hello")
        #expect(message(notHDF5) == "\(notHDF5): not an HDF5 file (no HDF5 signature); it may be another format, or empty")
        // Nothing stays open after a failed read.
        for path in [noFeatures, flat, short, text, badClass, names] {
            #expect(HDF5File.openObjectCount(inFile: path) == 0)
        }
    }

    @Test func aMinimalHandWrittenFileIsReadWithDefaults() throws {
        let scratch = try Scratch()
        let path = scratch.path("minimal.h5")
        let file = try HDF5File.create(at: path)
        try file.root.writeDataset("features", [Double](arrayLiteral: 1, 2, 3, 4), shape: [2, 2])
        try file.root.writeDataset("targets", [Int32(1), -1])
        file.close()
        let dataset = try DatasetFile.read(path)
        #expect(dataset.task == .classification)
        #expect(dataset.featureNames == ["f0", "f1"])
        #expect(dataset.classes == ["0", "1"])
        #expect(dataset.targets == .classes([1, -1]))
        #expect(dataset.features == [1, 2, 3, 4])
    }

    @Test func seededRandomMatchesTheReference() {
        // xoshiro256** seeded with SplitMix64 from 0, as published by its authors.
        var random = SeededRandom(seed: 0)
        #expect([random.next(), random.next(), random.next()] == [11_091_344_671_253_066_420, 13_793_997_310_169_335_082, 1_900_383_378_846_508_768])
        var a = SeededRandom(seed: 42)
        var b = SeededRandom(state: a.savedState)!
        #expect((0..<100).map { _ in a.nextIndex(below: 7) } == (0..<100).map { _ in b.nextIndex(below: 7) })
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<30_000 { counts[a.nextIndex(below: 3)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 400 })
    }
}
