import Engine
import Foundation
import HDF5
import Testing

/// Comparing an output with its reproduction: HDF5 object by object, metrics field by field, other
/// files byte by byte, and unreadable files reported rather than thrown.
@Suite struct OutputComparisonTests {
    /// A folder of its own, removed at the end of the test.
    final class Folder {
        let path = NSTemporaryDirectory() + "blacktail-comparison-\(UUID().uuidString)"

        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }

        func file(_ name: String) -> String { "\(path)/\(name)" }

        func write(_ name: String, _ text: String) throws -> String {
            try text.write(toFile: file(name), atomically: true, encoding: .utf8)
            return file(name)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// A small model-like file: weights and biases under `/parameters/layer0`, and attributes.
    func writeModel(
        _ path: String, weights: [Float] = (0..<64).map { Float($0) / 8 }, weightShape: [Int] = [8, 8],
        createdBy: String = "train/mlp@1", extra: Bool = false, layout: HDF5DatasetLayout = .contiguous
    ) throws {
        let file = try HDF5File.create(at: path, overwrite: true)
        defer { file.close() }
        let root = try file.root
        try root.setAttribute("format", .string("blacktail.checkpoint/1"))
        try root.setAttribute("created_by", .string(createdBy))
        let layer = try root.createGroup("parameters/layer0")
        try layer.setAttribute("activation", .string("relu"))
        try layer.writeDataset("weights", weights, shape: weightShape, layout: layout)
        try layer.writeDataset("biases", [Double](repeating: 0.5, count: 8))
        try root.writeDataset("classes", strings: ["a", "b"])
        if extra { try root.writeDataset("extra", [Int64(1), 2, 3]) }
    }

    @Test func identicalFilesHaveNoDifference() throws {
        let folder = try Folder()
        try writeModel(folder.file("a.h5"))
        try writeModel(folder.file("b.h5"))
        #expect(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "model") == nil)
        let metrics = try folder.write("m1.json", "{\"accuracy\": 0.9}\n")
        let same = try folder.write("m2.json", "{\"accuracy\": 0.9}\n")
        #expect(OutputComparison.compare(original: metrics, reproduced: same, type: "metrics") == nil)
        let empty = try folder.write("e1", "")
        #expect(OutputComparison.compare(original: empty, reproduced: try folder.write("e2", ""), type: "file") == nil)
    }

    @Test func oneDifferentElementIsNamedWithItsDifference() throws {
        let folder = try Folder()
        var weights = (0..<64).map { Float($0) / 8 }
        try writeModel(folder.file("a.h5"), weights: weights)
        weights[37] += 0.25
        try writeModel(folder.file("b.h5"), weights: weights)
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "model"))
        #expect(difference.method == .hdf5)
        #expect(difference.entries.count == 1)
        let entry = try #require(difference.entries.first)
        #expect(entry.kind == .valuesDiffer)
        #expect(entry.path == "/parameters/layer0/weights")
        #expect(entry.differingElements == 1)
        #expect(entry.elementCount == 64)
        #expect(entry.largestAbsoluteDifference == 0.25)
        #expect(entry.description == "/parameters/layer0/weights: 1 of 64 elements differ, largest absolute difference 0.25")
        #expect(difference.largestAbsoluteDifference == 0.25)
        #expect(difference.isWithin(tolerance: 0.5))
        #expect(!difference.isWithin(tolerance: 0.1))
        #expect(difference.description == """
            the reproduced model differs from the original: 1 difference, largest absolute difference 0.25
              /parameters/layer0/weights: 1 of 64 elements differ, largest absolute difference 0.25
            """)
    }

    @Test func manySmallDifferencesAreCountedAndTheLargestKept() throws {
        let folder = try Folder()
        let weights = (0..<64).map { Float($0) / 8 }
        try writeModel(folder.file("a.h5"), weights: weights)
        try writeModel(folder.file("b.h5"), weights: weights.enumerated().map { $0.offset % 2 == 0 ? $0.element.nextUp : $0.element })
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "model"))
        let entry = try #require(difference.entries.first)
        #expect(entry.differingElements == 32)
        let largest = weights.enumerated().filter { $0.offset % 2 == 0 }.map { Double($0.element.nextUp) - Double($0.element) }.max()
        #expect(entry.largestAbsoluteDifference == largest)
        #expect(difference.isWithin(tolerance: 1e-5))
    }

    @Test func shapeExtraDatasetTypeAndAttributeChangesAreReported() throws {
        let folder = try Folder()
        try writeModel(folder.file("a.h5"))
        try writeModel(folder.file("b.h5"), weights: (0..<72).map { Float($0) }, weightShape: [9, 8], createdBy: "train/mlp@2", extra: true)
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "model"))
        #expect(difference.entries.map(\.kind) == [.attributeDiffers, .onlyInReproduced, .shapeChanged])
        #expect(difference.entries.map(\.description) == [
            "/: attribute 'created_by' is \"train/mlp@1\" in the original, \"train/mlp@2\" in the reproduced",
            "/extra: only in the reproduced file (a dataset of int64, shape [3])",
            "/parameters/layer0/weights: shape [8, 8] in the original, [9, 8] in the reproduced",
        ])
        #expect(difference.entries[0].attribute == "created_by")
        #expect(!difference.isWithin(tolerance: 1))

        // The other way round, the dataset is only in the original.
        let reversed = try #require(OutputComparison.compare(original: folder.file("b.h5"), reproduced: folder.file("a.h5"), type: "model"))
        #expect(reversed.entries[1].description == "/extra: only in the original file (a dataset of int64, shape [3])")
    }

    @Test func elementTypeAndNumericAttributeChanges() throws {
        let folder = try Folder()
        for (name, learningRate, asDouble) in [("a.h5", 0.5, false), ("b.h5", 0.25, true)] {
            let file = try HDF5File.create(at: folder.file(name), overwrite: true)
            let root = try file.root
            try root.setAttribute("learning_rate", .double(learningRate))
            if asDouble {
                try root.writeDataset("values", [Double(1), 2, 3])
            } else {
                try root.writeDataset("values", [Float(1), 2, 3.5])
            }
            file.close()
        }
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "dataset"))
        #expect(difference.entries.map(\.description) == [
            "/: attribute 'learning_rate' is 0.5 in the original, 0.25 in the reproduced, absolute difference 0.25",
            "/values: float32 in the original, float64 in the reproduced",
            "/values: 1 of 3 elements differ, largest absolute difference 0.5",
        ])
        #expect(difference.entries[0].largestAbsoluteDifference == 0.25)
    }

    @Test func textAndFlagDatasetsCountTheirDifferingElements() throws {
        let folder = try Folder()
        for (name, classes, flags) in [("a.h5", ["setosa", "versicolor", "virginica"], [true, false]), ("b.h5", ["setosa", "Versicolor", "Virginica"], [true, true])] {
            let file = try HDF5File.create(at: folder.file(name), overwrite: true)
            try file.root.writeDataset("classes", strings: classes)
            try file.root.writeDataset("flags", flags)
            file.close()
        }
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "dataset"))
        #expect(difference.entries.map(\.description) == ["/classes: 2 of 3 elements differ", "/flags: 1 of 2 elements differ"])
        #expect(difference.entries.map(\.largestAbsoluteDifference) == [nil, nil])
        #expect(difference.entries.map(\.differingElements) == [2, 1])
        #expect(!difference.isWithin(tolerance: 1))
    }

    @Test func theSameContentStoredDifferentlyIsAStorageDifference() throws {
        let folder = try Folder()
        try writeModel(folder.file("a.h5"))
        try writeModel(folder.file("b.h5"), layout: .chunked(rows: 2, gzip: 4, shuffle: true))
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "model"))
        #expect(difference.entries.map(\.kind) == [.storageDiffers])
        #expect(difference.isWithin(tolerance: 0))
        #expect(difference.largestAbsoluteDifference == nil)
    }

    @Test func metricsDifferFieldByField() throws {
        let folder = try Folder()
        let original = try folder.write("a.json", "{\"accuracy\": 0.9, \"f1_macro\": 0.5, \"rows\": 30.0}\n")
        let reproduced = try folder.write("b.json", "{\"accuracy\": 0.95, \"log_loss\": 0.125, \"rows\": 30.0}\n")
        let difference = try #require(OutputComparison.compare(original: original, reproduced: reproduced, type: "metrics"))
        #expect(difference.method == .metrics)
        #expect(difference.entries.map(\.kind) == [.valuesDiffer, .onlyInOriginal, .onlyInReproduced])
        #expect(difference.entries.map(\.description) == [
            "accuracy: 0.9 in the original, 0.95 in the reproduced, absolute difference \(abs(0.95 - 0.9))",
            "f1_macro: only in the original (0.5)",
            "log_loss: only in the reproduced (0.125)",
        ])
        #expect(difference.entries[0].largestAbsoluteDifference == abs(0.95 - 0.9))
        #expect(difference.entries[0].path == "accuracy")

        // The same numbers written differently.
        let spaced = try folder.write("c.json", "{\n  \"accuracy\": 0.9,\n  \"f1_macro\": 0.5,\n  \"rows\": 30\n}\n")
        let layout = try #require(OutputComparison.compare(original: original, reproduced: spaced, type: "metrics"))
        #expect(layout.entries.map(\.kind) == [.storageDiffers])

        // A file that is not JSON is reported with the byte comparison.
        let broken = try folder.write("d.json", "{\"accuracy\": 0.9,")
        let unreadable = try #require(OutputComparison.compare(original: original, reproduced: broken, type: "metrics"))
        #expect(unreadable.entries.map(\.description) == [
            "the reproduced file could not be read: it is not JSON",
            "the reproduced file is the first 17 bytes of the other (the original 49 bytes, the reproduced 17)",
        ])
    }

    @Test func otherJSONIsComparedByKindAndPosition() throws {
        let folder = try Folder()
        let original = try folder.write("a.json", "{\"flag\": true, \"name\": \"x\", \"counts\": [1, 2], \"nested\": {\"rate\": 0.5}, \"kind\": 3}")
        let reproduced = try folder.write("b.json", "{\"flag\": false, \"name\": \"x\", \"counts\": [1, 4, 5], \"nested\": {\"rate\": 0.75}, \"kind\": \"3\"}")
        let difference = try #require(OutputComparison.compare(original: original, reproduced: reproduced, type: "metrics"))
        #expect(difference.entries.map(\.description) == [
            "counts[1]: 2 in the original, 4 in the reproduced, absolute difference 2.0",
            "counts[2]: only in the reproduced (5)",
            "flag: true in the original, false in the reproduced",
            "kind: 3 in the original, \"3\" in the reproduced",
            "nested.rate: 0.5 in the original, 0.75 in the reproduced, absolute difference 0.25",
        ])
        #expect(difference.entries.map(\.kind) == [.valuesDiffer, .onlyInReproduced, .valuesDiffer, .typeChanged, .valuesDiffer])
        #expect(difference.largestAbsoluteDifference == 2)
    }

    @Test func plainFilesGiveTheirSizesAndFirstDifferingByte() throws {
        let folder = try Folder()
        let original = try folder.write("a.txt", "hello world\n")
        let reproduced = try folder.write("b.txt", "hello there\n")
        let difference = try #require(OutputComparison.compare(original: original, reproduced: reproduced, type: "file"))
        #expect(difference.method == .bytes)
        #expect(difference.entries == [
            Difference.Entry(kind: .bytesDiffer, path: "", message: "the files differ from byte 6 on (both 12 bytes)", byteOffset: 6)
        ])
        #expect(difference.originalSize == 12)
        #expect(difference.reproducedSize == 12)

        let longer = try folder.write("c.txt", "hello world\nand more\n")
        let prefix = try #require(OutputComparison.compare(original: original, reproduced: longer, type: "file"))
        #expect(prefix.entries.first?.description == "the original file is the first 12 bytes of the other (the original 12 bytes, the reproduced 21)")
        #expect(prefix.entries.first?.byteOffset == 12)

        // A difference past the first block read.
        let big = [UInt8](repeating: 7, count: (1 << 20) + 100)
        var changed = big
        changed[(1 << 20) + 42] = 8
        try Data(big).write(to: URL(fileURLWithPath: folder.file("big1")))
        try Data(changed).write(to: URL(fileURLWithPath: folder.file("big2")))
        let far = try #require(OutputComparison.compare(original: folder.file("big1"), reproduced: folder.file("big2"), type: "file"))
        #expect(far.entries.first?.byteOffset == (1 << 20) + 42)
    }

    @Test func aTruncatedHDF5FileIsReportedNotThrown() throws {
        let folder = try Folder()
        try writeModel(folder.file("a.h5"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: folder.file("a.h5")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: folder.file("b.h5")))
        let difference = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("b.h5"), type: "model"))
        let first = try #require(difference.entries.first)
        #expect(first.kind == .unreadable)
        #expect(first.message.hasPrefix("the reproduced file could not be read: "))
        #expect(difference.entries.last?.kind == .bytesDiffer)
        #expect(difference.entries.last?.byteOffset == bytes.count / 2)

        // Random bytes after the signature, and a missing file.
        try Data(OutputComparisonTests.signature + [UInt8](repeating: 0xAB, count: 600)).write(to: URL(fileURLWithPath: folder.file("c.h5")))
        let garbage = try #require(OutputComparison.compare(original: folder.file("c.h5"), reproduced: folder.file("a.h5"), type: "model"))
        #expect(garbage.entries.first?.message.hasPrefix("the original file could not be read: ") == true)
        let missing = try #require(OutputComparison.compare(original: folder.file("a.h5"), reproduced: folder.file("none.h5"), type: "model"))
        #expect(missing.entries.map(\.description) == ["the reproduced file could not be read: no such file"])
        #expect(missing.entries.map(\.kind) == [.unreadable])
        #expect(missing.reproducedSize == nil)
        #expect(missing.originalSize == bytes.count)
        let folderGiven = try #require(OutputComparison.compare(original: folder.path, reproduced: folder.file("a.h5"), type: "model"))
        #expect(folderGiven.entries.map(\.description) == ["the original file could not be read: it is a folder, not a file"])
    }

    @Test func aDatasetThatIsNotHDF5IsComparedByBytes() throws {
        let folder = try Folder()
        let original = try folder.write("a.h5", "not hdf5")
        let reproduced = try folder.write("b.h5", "not hdf6")
        let difference = try #require(OutputComparison.compare(original: original, reproduced: reproduced, type: "dataset"))
        #expect(difference.entries.map(\.description) == [
            "neither file is an HDF5 file, which a dataset artifact is; compared byte by byte",
            "the files differ from byte 7 on (both 8 bytes)",
        ])
    }

    @Test func aDifferenceEncodesAsJSON() throws {
        let folder = try Folder()
        let original = try folder.write("a.json", "{\"accuracy\": 0.5}")
        let reproduced = try folder.write("b.json", "{\"accuracy\": 0.75}")
        let difference = try #require(OutputComparison.compare(original: original, reproduced: reproduced, type: "metrics"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let decoded = try JSONDecoder().decode(Difference.self, from: try encoder.encode(difference))
        #expect(decoded == difference)
        #expect(decoded.entries.first?.largestAbsoluteDifference == 0.25)
    }

    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
}
