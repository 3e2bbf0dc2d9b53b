import Foundation
import HDF5
import Testing

/// A folder of its own for each test, removed afterwards.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("blacktail-hdf5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite(.serialized) struct HDF5Tests {
    @Test func everyElementTypeRoundTrips() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("types.h5")
        do {
            let file = try HDF5File.create(at: path)
            let root = try file.root
            try root.writeDataset("f32", [Float](arrayLiteral: 1.5, -2, .greatestFiniteMagnitude, 0), shape: [2, 2])
            try root.writeDataset("f64", [Double.pi, -0.0, 1e-300], shape: [3])
            try root.writeDataset("i8", [Int8.min, 0, Int8.max])
            try root.writeDataset("i16", [Int16.min, 7, Int16.max])
            try root.writeDataset("i32", [Int32.min, 7, Int32.max])
            try root.writeDataset("i64", [Int64.min, -1, Int64.max], shape: [3, 1, 1])
            try root.writeDataset("u8", [UInt8](0...255), shape: [16, 16])
            try root.writeDataset("flags", [true, false, true])
            try root.writeDataset("names", strings: ["alpha", "", "ünïcødé ✓", "a\nb"])
            try root.createGroup("nested/deeper").writeDataset("x", [Int64(42)])
            file.close()
        }
        try HDF5File.withFile(at: path) { file in
            let root = try file.root
            #expect(try root.dataset("f32").read(as: Float.self) == [1.5, -2, .greatestFiniteMagnitude, 0])
            #expect(try root.dataset("f32").shape == [2, 2])
            #expect(try root.dataset("f64").read(as: Double.self) == [Double.pi, -0.0, 1e-300])
            #expect(try root.dataset("i8").read(as: Int8.self) == [Int8.min, 0, Int8.max])
            #expect(try root.dataset("i16").read(as: Int16.self) == [Int16.min, 7, Int16.max])
            #expect(try root.dataset("i32").read(as: Int32.self) == [Int32.min, 7, Int32.max])
            #expect(try root.dataset("i64").read(as: Int64.self) == [Int64.min, -1, Int64.max])
            #expect(try root.dataset("i64").shape == [3, 1, 1])
            #expect(try root.dataset("u8").read(as: UInt8.self) == Array(0...255))
            #expect(try root.dataset("flags").read(as: Bool.self) == [true, false, true])
            #expect(try root.dataset("flags").elementType == .bool)
            #expect(try root.dataset("names").readStrings() == ["alpha", "", "ünïcødé ✓", "a\nb"])
            #expect(try root.dataset("nested/deeper/x").read(as: Int64.self) == [42])
            #expect(try root.memberNames == ["f32", "f64", "flags", "i16", "i32", "i64", "i8", "names", "nested", "u8"])
            #expect(try root.group("nested").memberNames == ["deeper"])
            // Numbers convert as HDF5 converts them.
            #expect(try root.dataset("i16").read(as: Float.self) == [-32768, 7, 32767])
        }
    }

    @Test func attributesOfEveryKind() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("attributes.h5")
        do {
            let file = try HDF5File.create(at: path)
            let dataset = try file.root.writeDataset("d", [Float(1)])
            try dataset.setAttribute("count", .int(-3))
            try dataset.setAttribute("rate", .double(0.25))
            try dataset.setAttribute("name", .string("iris ✓"))
            try dataset.setAttribute("ids", .ints([1, 2, 3]))
            try dataset.setAttribute("weights", .doubles([0.5, 1.5]))
            try dataset.setAttribute("classes", .strings(["setosa", "versicolor", "virginica"]))
            try dataset.setAttribute("name", .string("replaced"))
            try file.root.setAttribute("format", .string("blacktail.dataset/1"))
        }
        try HDF5File.withFile(at: path) { file in
            let dataset = try file.root.dataset("d")
            #expect(try dataset.attributeNames == ["classes", "count", "ids", "name", "rate", "weights"])
            #expect(try dataset.attribute("count") == .int(-3))
            #expect(try dataset.attribute("rate") == .double(0.25))
            #expect(try dataset.attribute("name") == .string("replaced"))
            #expect(try dataset.attribute("ids") == .ints([1, 2, 3]))
            #expect(try dataset.attribute("weights") == .doubles([0.5, 1.5]))
            #expect(try dataset.attribute("classes")?.stringsValue == ["setosa", "versicolor", "virginica"])
            #expect(try dataset.attribute("missing") == nil)
            #expect(try file.root.attribute("format")?.stringValue == "blacktail.dataset/1")
        }
    }

    @Test func chunkedCompressedAndExtendable() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("chunked.h5")
        let width = 8
        do {
            let file = try HDF5File.create(at: path)
            let root = try file.root
            let compressed = try root.createDataset("z", of: .float32, shape: [1000, width], layout: .chunked(rows: 64, gzip: 6, shuffle: true))
            try compressed.write((0..<(1000 * width)).map { Float($0 % 17) })
            let growing = try root.createDataset("rows", of: .float64, shape: [0, width], layout: .chunked(rows: 10, extendable: true))
            for block in 0..<5 {
                try growing.append((0..<(7 * width)).map { Double(block * 1000 + $0) })
            }
            #expect(growing.shape == [35, width])
            #expect(throws: HDF5Error.self) { try growing.append([1.0, 2.0, 3.0]) }  // not a whole row
            #expect(throws: HDF5Error.self) { try compressed.append([Float](repeating: 0, count: width)) }  // not extendable
        }
        try HDF5File.withFile(at: path) { file in
            let compressed = try file.root.dataset("z")
            #expect(try compressed.read(as: Float.self) == (0..<(1000 * width)).map { Float($0 % 17) })
            let rows = try file.root.dataset("rows")
            #expect(rows.shape == [35, width])
            #expect(try rows.readRows(7..<8, as: Double.self) == (0..<width).map { Double(1000 + $0) })
        }
        // Compression worked: the file is far smaller than its 32 KB of floats.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(size < 16_000)
    }

    @Test func partialReadsByRangeAndByIndices() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("rows.h5")
        let rows = 500
        let width = 3
        let values = (0..<(rows * width)).map { Float($0) }
        for layout in [HDF5DatasetLayout.contiguous, .chunked(rows: 16, gzip: 1)] {
            try? FileManager.default.removeItem(atPath: path)
            do {
                let file = try HDF5File.create(at: path)
                let dataset = try file.root.createDataset("x", of: .float32, shape: [rows, width], layout: layout)
                try dataset.write(values)
            }
            try HDF5File.withFile(at: path) { file in
                let dataset = try file.root.dataset("x")
                #expect(try dataset.readRows(10..<13, as: Float.self) == Array(values[30..<39]))
                #expect(try dataset.readRows(0..<0, as: Float.self) == [])
                let indices = [499, 3, 4, 3, 250, 0]
                let expected = indices.flatMap { Array(values[($0 * width)..<(($0 + 1) * width)]) }
                #expect(try dataset.readRows(at: indices, as: Float.self) == expected)
                #expect(throws: HDF5Error.self) { try dataset.readRows(at: [500], as: Float.self) }
                #expect(throws: HDF5Error.self) { try dataset.readRows(490..<501, as: Float.self) }
            }
        }
    }

    @Test func badFilesAreErrorsNotCrashes() throws {
        let folder = try TemporaryFolder()
        let missing = thrown { try HDF5File.open(at: folder.path("missing.h5")) }
        #expect(missing?.kind == .fileNotFound)
        #expect(missing?.description == "\(folder.path("missing.h5")): no such file")

        let text = folder.path("text.h5")
        try "version: 1\n".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(thrown { try HDF5File.open(at: text) }?.kind == .notHDF5)
        let empty = folder.path("empty.h5")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(thrown { try HDF5File.open(at: empty) }?.kind == .notHDF5)

        // A real file cut short, and one with its middle overwritten.
        let good = folder.path("good.h5")
        do {
            let file = try HDF5File.create(at: good)
            try file.root.writeDataset("x", (0..<50_000).map { Float($0) }, shape: [10_000, 5])
            try file.root.writeDataset("names", strings: ["a", "b"])
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let truncated = folder.path("truncated.h5")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let truncatedError = thrown {
            try HDF5File.withFile(at: truncated) { file in _ = try file.root.dataset("x").read(as: Float.self) }
        }
        #expect(truncatedError != nil)
        let corrupt = folder.path("corrupt.h5")
        var damaged = bytes
        for offset in stride(from: 96, to: 2048, by: 1) { damaged[offset] = 0xA5 }
        try damaged.write(to: URL(fileURLWithPath: corrupt))
        let corruptError = thrown {
            try HDF5File.withFile(at: corrupt) { file in
                _ = try file.root.dataset("x").read(as: Float.self)
                _ = try file.root.dataset("names").readStrings()
            }
        }
        #expect(corruptError != nil)

        // Wrong types and shapes.
        try HDF5File.withFile(at: good) { file in
            let names = try file.root.dataset("names")
            #expect(thrown { _ = try names.read(as: Float.self) }?.kind == .typeMismatch)
            #expect(thrown { _ = try file.root.dataset("x").readStrings() }?.kind == .typeMismatch)
            #expect(thrown { _ = try file.root.dataset("nope") }?.kind == .objectNotFound)
            #expect(thrown { _ = try file.root.dataset("nope/deeper") }?.description == "\(good): /nope/deeper: no such dataset")
        }
        let writable = try HDF5File.open(at: good, mode: .readWrite)
        #expect(thrown { try writable.root.dataset("x").write([Float(1), 2]) }?.kind == .shapeMismatch)
        writable.close()
        let exists = thrown { try HDF5File.create(at: good) }
        #expect(exists?.kind == .alreadyExists)
        #expect(thrown { try HDF5File.open(at: good).root.dataset("x").write([Float](repeating: 0, count: 50_000)) } != nil)
    }

    @Test func readingEverythingVisitsEachObjectOnce() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("all.h5")
        do {
            let file = try HDF5File.create(at: path)
            try file.root.setAttribute("title", .string("everything"))
            let x = try file.root.writeDataset("x", (0..<12).map { Float($0) }, shape: [4, 3])
            try x.setAttribute("scale", .doubles([1, 2, 3]))
            try file.root.writeDataset("flags", [true, false, true], shape: [3])
            let inner = try file.root.createGroup("inner")
            try inner.setAttribute("level", .int(1))
            try inner.writeDataset("ids", [Int64(7), 8], shape: [2])
            try inner.writeDataset("names", strings: ["a", "b", "c"])
            try inner.createGroup("empty").setAttribute("tags", .strings(["p", "q"]))
        }
        var expected = HDF5ReadSummary()
        (expected.groups, expected.datasets, expected.attributes, expected.elements) = (3, 4, 4, 12 + 3 + 2 + 3)
        let file = try HDF5File.open(at: path)
        #expect(try file.readEverything() == expected)
        // Read a few rows at a time, the same values are read.
        #expect(try file.readEverything(elementsPerRead: 2) == expected)
        file.close()
        #expect(HDF5File.openObjectCount(inFile: path) == 0)

        // Damage the middle of a larger file: an error, not a crash.
        let big = folder.path("big.h5")
        do {
            let file = try HDF5File.create(at: big)
            try file.root.writeDataset("x", (0..<50_000).map { Float($0) }, shape: [10_000, 5])
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: big))
        for offset in stride(from: 96, to: 2048, by: 1) { bytes[offset] = 0xA5 }
        try bytes.write(to: URL(fileURLWithPath: big))
        #expect(thrown { _ = try HDF5File.open(at: big).readEverything() } != nil)
    }

    @Test func handlesAreReleasedAfterThousandsOfCycles() throws {
        let folder = try TemporaryFolder()
        let path = folder.path("cycle.h5")
        do {
            let file = try HDF5File.create(at: path)
            let dataset = try file.root.writeDataset("x", [Float](repeating: 1, count: 100), shape: [10, 10])
            try dataset.setAttribute("classes", .strings(["a", "b"]))
        }
        #expect(HDF5File.openObjectCount(inFile: path) == 0)
        for cycle in 0..<3000 {
            let file = try HDF5File.open(at: path)
            let dataset = try file.root.dataset("x")
            _ = try dataset.readRows(at: [cycle % 10, 0], as: Float.self)
            _ = try dataset.attribute("classes")
            if cycle.isMultiple(of: 2) { file.close() }  // the rest are closed when released
        }
        // Counted in this file only: other tests open files at the same time.
        #expect(HDF5File.openObjectCount(inFile: path) == 0)
        // Objects kept past their file's close are closed with it.
        let file = try HDF5File.open(at: path)
        let dataset = try file.root.dataset("x")
        #expect(HDF5File.openObjectCount(inFile: path) == 2)  // the file and the dataset
        file.close()
        #expect(HDF5File.openObjectCount(inFile: path) == 0)
        #expect(thrown { _ = try dataset.read(as: Float.self) } != nil)
    }

    private func thrown(_ body: () throws -> Void) -> HDF5Error? {
        do {
            try body()
            return nil
        } catch let error as HDF5Error {
            return error
        } catch {
            return nil
        }
    }

    private func thrown<T>(_ body: () throws -> T) -> HDF5Error? {
        thrown { () throws -> Void in _ = try body() }
    }
}

@Suite struct HDF5ReproducibilityTests {
    @Test func theSameContentGivesTheSameBytes() throws {
        let folder = try TemporaryFolder()
        var digests: [Data] = []
        for name in ["a.h5", "b.h5"] {
            let path = folder.path(name)
            do {
                let file = try HDF5File.create(at: path)
                let group = try file.root.createGroup("g")
                let dataset = try group.createDataset("x", of: .float32, shape: [100, 4], layout: .chunked(rows: 10, gzip: 4, shuffle: true))
                try dataset.write((0..<400).map { Float($0) / 3 })
                try dataset.setAttribute("names", .strings(["a", "b", "c", "d"]))
                try file.root.setAttribute("format", .string("test"))
            }
            digests.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            Thread.sleep(forTimeInterval: 1.1)  // a timestamp, if written, would differ
        }
        #expect(digests[0] == digests[1])
    }
}
