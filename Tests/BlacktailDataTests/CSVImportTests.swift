import BlacktailData
import Foundation
import Testing

@Suite struct CSVImportTests {
    private func importText(_ text: String, _ configure: (inout CSVImporter) -> Void = { _ in }) throws -> (Dataset, CSVImporter.Summary) {
        let scratch = try Scratch()
        let csv = try scratch.file("data.csv", text)
        var importer = CSVImporter(label: "y")
        importer.scratchDirectory = scratch.url.path
        configure(&importer)
        let summary = try importer.run(csv: csv, to: scratch.path("out.h5"))
        return (try DatasetFile.read(scratch.path("out.h5")), summary)
    }

    private func importError(_ text: String, _ configure: (inout CSVImporter) -> Void = { _ in }) -> String? {
        do {
            _ = try importText(text, configure)
            return nil
        } catch let error as DatasetError {
            return [error.place, error.message].compactMap { $0 }.joined(separator: ": ")
        } catch {
            return "\(error)"
        }
    }

    @Test func quotedFieldsBlankLinesBOMAndCRLF() throws {
        let text = "\u{FEFF}a,\"b, with comma\",y\r\n1,2,\"cat\"\r\n\r\n3,\"4\",\"say \"\"hi\"\"\nthere\"\r\n5,6,cat"
        let (dataset, summary) = try importText(text)
        #expect(dataset.featureNames == ["a", "b, with comma"])
        #expect(dataset.features == [1, 2, 3, 4, 5, 6])
        #expect(dataset.classes == ["cat", "say \"hi\"\nthere"])
        #expect(dataset.targets == .classes([0, 1, 0]))
        #expect(summary.rows == 3)
    }

    @Test func tinyReadBlocksGiveTheSameResult() throws {
        let text = "a,b,y\n" + (0..<500).map { "\($0),\"\(Double($0) / 4)\",\($0 % 3 == 0 ? "x" : "\"y,z\"")" }.joined(separator: "\r\n") + "\n"
        let (whole, _) = try importText(text)
        for size in [1, 2, 3, 7, 64] {
            let (blocked, _) = try importText(text) { importer in
                importer.readBlockBytes = size
                importer.blockRows = 13
            }
            #expect(blocked == whole)
        }
        #expect(whole.rowCount == 500)
    }

    @Test(arguments: [
        ("a,y\n1,x\n2\n", "line 3: 1 fields, but the header has 2"),
        ("a,y\n1,x\n2,x,3\n", "line 3: 3 fields, but the header has 2"),
        ("a,b,y\n1,2,x\n3,oops,x\n", "line 3, column 2 ('b'): 'oops' is not a number"),
        ("a,y\n1,x\n,x\n", "line 3, column 1 ('a'): missing value; set the missing-value policy to drop or impute-mean to accept it"),
        ("a,y\n1e400,x\n", "line 2, column 1 ('a'): 1e400 does not fit in a float32"),
        ("a,b,y\n1e39,oops,x\n", "line 2, column 1 ('a'): 1e39 does not fit in a float32"),
        ("a,y\n\"1,x\n", "line 2: a quoted field opened here is not closed; add the closing \""),
        ("a,label\n1,x\n", "line 1: there is no column 'y'; the columns are a, label"),
        ("", "the file is empty; it needs a header row"),
        ("a,y\n", "there are no data rows after the header"),
        ("a,y\n1,x\n2,nan-ish\n", nil),
    ])
    func errorsNameTheLineAndColumn(text: String, expected: String?) {
        #expect(importError(text) == expected)
    }

    @Test func missingValuePolicies() throws {
        let text = "a,b,y\n1,NA,p\n,4,q\n3,6,p\n"
        let (dropped, dropSummary) = try importText(text) { $0.missing = .drop }
        #expect(dropped.features == [3, 6])
        #expect(dropSummary.droppedRows == 2)
        let (imputed, imputeSummary) = try importText(text) { $0.missing = .imputeMean }
        #expect(imputed.features == [1, 5, 2, 4, 3, 6])
        #expect(imputeSummary.imputedValues == 2)
    }

    @Test func classOrderIsStableAndTasksAreDetected() throws {
        let (names, _) = try importText("a,y\n1,zebra\n2,ant\n3,Mole\n4,ant\n")
        #expect(names.classes == ["Mole", "ant", "zebra"])
        #expect(names.targets == .classes([2, 1, 0, 1]))
        let (numbers, _) = try importText("a,y\n1,10\n2,2\n3,9\n")
        #expect(numbers.task == .classification)
        #expect(numbers.classes == ["2", "9", "10"])
        let manyValues = "a,y\n" + (0..<30).map { "\($0),\($0 * 7)" }.joined(separator: "\n")
        let (regression, _) = try importText(manyValues)
        #expect(regression.task == .regression)
        #expect(regression.targets == .values((0..<30).map { Double($0 * 7) }))
        let (forced, _) = try importText("a,y\n1,0.5\n2,1.5\n") { $0.task = .regression }
        #expect(forced.targets == .values([0.5, 1.5]))
        #expect(importError("a,y\n1,x\n") { $0.task = .regression } == "line 2, column 2 ('y'): 'x' is not a number, and the task is regression")
        let (partial, _) = try importText("a,y\n1,cat\n2,\n3,dog\n") { $0.task = .classification }
        #expect(partial.targets == .classes([0, -1, 1]))
        let (unlabelled, _) = try importText("a,b\n1,2\n3,4\n") { $0.label = nil }
        #expect(unlabelled.task == .unlabelled)
        #expect(unlabelled.featureNames == ["a", "b"])
        #expect(unlabelled.targets == .classes([-1, -1]))
    }

    @Test func realDatasetsImport() throws {
        let scratch = try Scratch()
        let cases: [(file: String, label: String, rows: Int, features: Int, classes: Int?)] = [
            ("iris.csv", "species", 150, 4, 3),
            ("wine.csv", "cultivar", 178, 13, 3),
            ("breast_cancer.csv", "diagnosis", 569, 30, 2),
            ("digits.csv", "digit", 1797, 64, 10),
            ("diabetes.csv", "progression", 442, 10, nil),
        ]
        for item in cases {
            var importer = CSVImporter(label: item.label)
            importer.scratchDirectory = scratch.url.path
            let output = scratch.path(item.file + ".h5")
            let summary = try importer.run(csv: datasetPath(item.file), to: output)
            let dataset = try DatasetFile.read(output)
            #expect(dataset.rowCount == item.rows)
            #expect(dataset.featureCount == item.features)
            #expect(summary.task == (item.classes == nil ? .regression : .classification))
            if let classes = item.classes { #expect(dataset.classes.count == classes) }
            #expect(dataset.provenance.sourceSHA256 == (try DatasetFile.sha256(ofFile: datasetPath(item.file))))
            #expect(dataset.provenance.createdBy == "data/import-csv@1")
        }
        let digits = try DatasetFile.read(scratch.path("digits.csv.h5"))
        #expect(digits.classes == (0...9).map(String.init))
    }
}

@Suite struct NumberParserTests {
    @Test(arguments: ["0", "-0", "1", "-17", "3.25", "0.1", "1e-7", "2.5E+3", "12345678901234567890", "0.000001", "  42  ", "+5", ".5", "5.", "1.7976931348623157e308", "4.9e-324"])
    func parsesLikeTheStandardLibrary(text: String) {
        let parsed = Array(text.utf8).withUnsafeBufferPointer { NumberParser.double($0) }
        #expect(parsed == Double(text.trimmingCharacters(in: .whitespaces)))
    }

    @Test(arguments: ["", " ", "-", ".", "abc", "1.2.3", "1e", "0x10", "inf", "nan", "1,5"])
    func rejectsNonNumbers(text: String) {
        #expect(Array(text.utf8).withUnsafeBufferPointer { NumberParser.double($0) } == nil)
    }
}

@Suite struct CSVFuzzTests {
    /// SplitMix64, so the inputs are the same on every run.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func anyBytesEndInADatasetOrAnError() throws {
        let scratch = try Scratch()
        let pieces: [[UInt8]] = ["a", "b", "y", ",", "\"", "\n", "\r\n", "1", "2.5", "-", "e9", "NA", " ", "x", "\u{FEFF}", "é"].map { Array($0.utf8) }
        var random = Generator(state: 11)
        for index in 0..<300 {
            var bytes = Array("a,b,y\n".utf8)
            for _ in 0..<Int.random(in: 0...60, using: &random) {
                if Int.random(in: 0..<10, using: &random) == 0 {
                    bytes.append(UInt8.random(in: 0...255, using: &random))
                } else {
                    bytes += pieces.randomElement(using: &random)!
                }
            }
            let csv = scratch.path("fuzz-\(index).csv")
            _ = FileManager.default.createFile(atPath: csv, contents: Data(bytes))
            var importer = CSVImporter(label: "y")
            importer.scratchDirectory = scratch.url.path
            importer.readBlockBytes = Int.random(in: 1...16, using: &random)
            importer.missing = [.error, .drop, .imputeMean][index % 3]
            do {
                try importer.run(csv: csv, to: scratch.path("fuzz-\(index).h5"))
                _ = try DatasetFile.read(scratch.path("fuzz-\(index).h5"))
            } catch {
                // A clear error is the other acceptable ending; no partial output is left behind.
                #expect(!FileManager.default.fileExists(atPath: scratch.path("fuzz-\(index).h5")))
            }
        }
    }
}
