import BlacktailData
import BlacktailOps
import Foundation
import Frameworks
import HDF5
import BlacktailNumerics
import PipelineLanguage
import Testing

/// Predictions outside a pipeline: a saved model on a dataset file or a CSV file, the same
/// predictions either way, and the same file as `model/predict` writes.
@Suite struct PredictionTests {
    /// Iris imported, split and scaled, and a logistic regression trained on the scaled rows with
    /// the scaler saved in its checkpoint: the raw test rows and the model.
    func trainedIris(_ scratch: Scratch) async throws -> (test: String, model: String, scaledTrain: String, scaler: String) {
        let imported = try await runOp(
            "data/import-csv", ["path": .value(.string(datasetPath("iris.csv"))), "label": .value(.string("species"))],
            outputs: ["dataset": "h5"], in: scratch, prefix: "import"
        )
        let split = try await runOp("data/split", ["input": .path(imported["dataset"]!)], outputs: ["train": "h5", "validation": "h5", "test": "h5"], in: scratch, prefix: "split")
        let scaled = try await runOp(
            "data/normalize", ["train": .path(split["train"]!), "test": .path(split["test"]!)],
            outputs: ["train": "h5", "validation": "h5", "test": "h5", "scaler": "h5"], in: scratch, prefix: "scale"
        )
        let trained = try await runOp(
            "train/logistic", ["train": .path(scaled["train"]!), "preprocessing": .path(scaled["scaler"]!)],
            outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "train"
        )
        return (split["test"]!, trained["model"]!, scaled["train"]!, scaled["scaler"]!)
    }

    /// A CSV file of a dataset's rows with the columns in `columns` order; a column that is not a
    /// feature gets the row's class name.
    func writeCSV(_ dataset: Dataset, columns: [String], to path: String, edit: (inout [[String]]) -> Void = { _ in }) throws {
        var rows: [[String]] = []
        for row in 0..<dataset.rowCount {
            let features = Array(dataset.row(row))
            rows.append(columns.map { column in
                if let index = dataset.featureNames.firstIndex(of: column) { return features[index].description }
                guard let id = dataset.classIDs?[row], id >= 0 else { return "" }
                return dataset.classes[Int(id)]
            })
        }
        edit(&rows)
        let text = ([columns] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func aDatasetAndACSVWithColumnsInAnotherOrderGiveTheSamePredictions() async throws {
        let scratch = try Scratch()
        let iris = try await trainedIris(scratch)
        let fromDataset = try Prediction.predict(checkpoint: iris.model, input: iris.test, threads: 1)
        #expect(fromDataset.task == .classification)
        #expect(fromDataset.rowCount == 30)
        #expect(fromDataset.classNames == ["setosa", "versicolor", "virginica"])
        #expect(fromDataset.probabilities?.rows == 30 && fromDataset.probabilities?.columns == 3)
        let test = try DatasetFile.read(iris.test)
        let truth = try #require(test.classIDs)
        let correct = zip(fromDataset.classIDs, truth).count { Int64($0) == $1 }
        #expect(correct >= 27)
        #expect(fromDataset.predictedClasses.count == 30)
        #expect(fromDataset.predictedClasses[0] == fromDataset.classNames[fromDataset.classIDs[0]])

        // The scaler saved with the model is applied: the raw rows give the classes the scaled rows
        // give without it.
        let (model, _, _) = try Checkpoint.read(iris.model)
        let scaler = try #require(try CheckpointFile.readPreprocessing(iris.scaler))
        let scaledOutputs = try #require(model.supervised).outputs(try scaler.apply(to: test, file: iris.test).featureMatrix)
        #expect(fromDataset.classIDs == scaledOutputs.argmaxRows())
        #expect(fromDataset.probabilities == scaledOutputs)

        let shuffled = ["petal_width_cm", "species", "sepal_length_cm", "petal_length_cm", "sepal_width_cm"]
        let csv = scratch.path("iris.csv")
        try writeCSV(test, columns: shuffled, to: csv)
        #expect(Prediction.inputFormat(of: csv) == .csv)
        #expect(Prediction.inputFormat(of: iris.test) == .hdf5)
        let fromCSV = try Prediction.predict(checkpoint: iris.model, input: csv, threads: 1)
        #expect(fromCSV.classIDs == fromDataset.classIDs)
        #expect(fromCSV.probabilities == fromDataset.probabilities)
        #expect(fromCSV.predictions.features == test.features)
        #expect(fromCSV.predictions.featureNames == test.featureNames)
        #expect(fromCSV.predictions.provenance.source == "iris.csv")
        #expect(fromCSV.predictions.provenance.sourceSHA256 == (try DatasetFile.sha256(ofFile: csv)))
        #expect(fromCSV.csv() == fromDataset.csv())

        // The CSV output: a header, then the row, the class and each class's probability.
        let lines = fromDataset.csv().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 32 && lines.last == "")
        #expect(lines[0] == "row,prediction,p_setosa,p_versicolor,p_virginica")
        let probabilities = try #require(fromDataset.probabilities)
        let first = lines[1].split(separator: ",").map(String.init)
        #expect(first[0] == "0")
        #expect(first[1] == fromDataset.predictedClasses[0])
        #expect(first[2...].compactMap(Float.init) == Array(probabilities.row(0)))
    }

    @Test func aCSVWithoutAFeatureColumnNamesIt() async throws {
        let scratch = try Scratch()
        let iris = try await trainedIris(scratch)
        let test = try DatasetFile.read(iris.test)
        let csv = scratch.path("partial.csv")
        try writeCSV(test, columns: ["sepal_length_cm", "species", "petal_length_cm", "sepal_width_cm"], to: csv)
        let missing = thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: csv, threads: 1) }
        #expect(missing == "\(csv): line 1: missing the feature column 'petal_width_cm'; the file's columns are sepal_length_cm, species, petal_length_cm, sepal_width_cm")

        let fewer = scratch.path("fewer.csv")
        try writeCSV(test, columns: ["petal_length_cm", "sepal_width_cm"], to: fewer)
        let two = thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: fewer, threads: 1) }
        #expect(two == "\(fewer): line 1: missing the feature columns 'sepal_length_cm', 'petal_width_cm'; the file's columns are petal_length_cm, sepal_width_cm")

        let twice = scratch.path("twice.csv")
        try writeCSV(test, columns: ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "sepal_width_cm"], to: twice)
        let duplicate = thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: twice, threads: 1) }
        #expect(duplicate == "\(twice): line 1: the column 'sepal_width_cm' appears more than once (columns 2 and 5); name each column once")
    }

    @Test(arguments: [
        ("abc", "'abc' is not a number"),
        ("", "missing value; every feature of every row needs a number"),
        (" NA ", "missing value; every feature of every row needs a number"),
        ("1e39", "1e39 does not fit in a float32"),
    ])
    func aCSVWithABadCellNamesItsLineAndColumn(cell: String, message: String) async throws {
        let scratch = try Scratch()
        let iris = try await trainedIris(scratch)
        let test = try DatasetFile.read(iris.test)
        let csv = scratch.path("bad.csv")
        try writeCSV(test, columns: ["species", "sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"], to: csv) { rows in
            rows[1][2] = cell
        }
        let bad = thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: csv, threads: 1) }
        #expect(bad == "\(csv): line 3, column 3 ('sepal_width_cm'): \(message)")
    }

    @Test func otherProblemsWithACSVAreNamed() async throws {
        let scratch = try Scratch()
        let iris = try await trainedIris(scratch)
        let header = "sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n"
        let short = try scratch.file("short.csv", header + "5.1,3.5,1.4,0.2\n5.1,3.5,1.4\n")
        #expect(thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: short, threads: 1) } == "\(short): line 3: 3 fields, but the header has 4")
        let empty = try scratch.file("empty.csv", "")
        #expect(thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: empty, threads: 1) } == "\(empty): the file is empty; it needs a header row")
        let headerOnly = try scratch.file("header.csv", header)
        #expect(thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: headerOnly, threads: 1) } == "\(headerOnly): there are no data rows after the header")
        let missing = scratch.path("none.csv")
        #expect(thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: missing, threads: 1) } == "\(missing): no such file")
        // Quoted fields, CRLF line ends and blank lines are read as an import reads them.
        let quoted = try scratch.file("quoted.csv", "\"petal_width_cm\",sepal_length_cm,sepal_width_cm,petal_length_cm,note\r\n\"0.2\",5.1,3.5,1.4,\"a, b\"\r\n\r\n")
        let one = try Prediction.predict(checkpoint: iris.model, input: quoted, threads: 1)
        #expect(one.predictions.features == [5.1, 3.5, 1.4, 0.2])
        #expect(one.predictedClasses == ["setosa"])
    }

    @Test func theOpWritesTheFileThePredictionWrites() async throws {
        let scratch = try Scratch()
        let iris = try await trainedIris(scratch)
        let kmeans = try await runOp("train/kmeans", ["train": .path(iris.scaledTrain), "preprocessing": .path(iris.scaler), "k": .value(.int(3))], outputs: ["model": "h5"], in: scratch, prefix: "kmeans")
        let pca = try await runOp("train/pca", ["train": .path(iris.scaledTrain), "components": .value(.int(2))], outputs: ["model": "h5"], in: scratch, prefix: "pca")
        let tree = try await runOp(
            "train/tree", ["train": .path(iris.scaledTrain), "preprocessing": .path(iris.scaler)], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "tree"
        )
        for (name, model) in [("logistic", iris.model), ("kmeans", kmeans["model"]!), ("pca", pca["model"]!), ("tree", tree["model"]!)] {
            let predicted = try await runOp("model/predict", ["model": .path(model), "data": .path(iris.test)], outputs: ["predictions": "h5"], in: scratch, prefix: "\(name)-predict")
            let result = try Prediction.predict(checkpoint: model, input: iris.test, threads: 1)
            let written = scratch.path("\(name)-api.h5")
            try result.write(hdf5: written)
            #expect(try DatasetFile.sha256(ofFile: written) == DatasetFile.sha256(ofFile: predicted["predictions"]!), "\(name)")
            let dataset = try DatasetFile.read(written)
            #expect(dataset.provenance.createdBy == "model/predict@1")
            #expect(dataset.provenance.sourceSHA256 == (try DatasetFile.sha256(ofFile: iris.test)))
        }

        // k-means: the nearest cluster and the squared distance to it, as the file holds them.
        let clusters = try Prediction.predict(checkpoint: kmeans["model"]!, input: iris.test, threads: 1)
        #expect(clusters.task == .clustering)
        #expect(clusters.classNames == ["cluster_0", "cluster_1", "cluster_2"])
        #expect(clusters.predictedClasses.allSatisfy { $0.hasPrefix("cluster_") })
        let distances = try HDF5File.withFile(at: scratch.path("kmeans-predict-predictions.h5")) { file in try file.root.dataset("distances").read(as: Float.self) }
        #expect(clusters.distances == distances)
        let clusterLines = clusters.csv().split(separator: "\n")
        #expect(clusterLines[0] == "row,cluster,distance")
        #expect(clusterLines[1] == "0,\(clusters.classIDs[0]),\(distances[0])")

        // PCA: the projected rows.
        let projection = try Prediction.predict(checkpoint: pca["model"]!, input: iris.test, threads: 1)
        #expect(projection.task == .projection)
        #expect(projection.components?.columns == 2)
        #expect(projection.predictions.featureNames == ["pc0", "pc1"])
        let components = try #require(projection.components)
        #expect(projection.csv().split(separator: "\n")[1] == "0,\(components[0, 0]),\(components[0, 1])")
        #expect(projection.csv().hasPrefix("row,pc0,pc1\n"))
    }

    @Test func aRegressorPredictsValues() async throws {
        let scratch = try Scratch()
        let imported = try await runOp(
            "data/import-csv", ["path": .value(.string(datasetPath("diabetes.csv"))), "label": .value(.string("progression")), "task": .value(.string("regression"))],
            outputs: ["dataset": "h5"], in: scratch, prefix: "import"
        )
        let trained = try await runOp("train/linear", ["train": .path(imported["dataset"]!)], outputs: ["model": "h5"], in: scratch, prefix: "linear")
        let result = try Prediction.predict(checkpoint: trained["model"]!, input: imported["dataset"]!, threads: 2)
        #expect(result.task == .regression)
        #expect(result.values.count == 442)
        #expect(result.probabilities == nil && result.classIDs.isEmpty)
        let lines = result.csv().split(separator: "\n")
        #expect(lines[0] == "row,prediction")
        #expect(lines[441] == "440,\(result.values[440])")
        #expect(lines.dropFirst().map { Float($0.split(separator: ",")[1])! } == result.values)
        let written = scratch.path("values.h5")
        try result.write(hdf5: written)
        guard case .values(let stored) = try DatasetFile.read(written).targets else {
            Issue.record("regression targets expected")
            return
        }
        #expect(stored == result.values.map(Double.init))
    }

    @Test func refusalsAndUnreadableInputs() async throws {
        let scratch = try Scratch()
        let iris = try await trainedIris(scratch)
        let grid = try await runOp(
            "train/q-learning", ["size": .value(.int(3)), "episodes": .value(.int(50))], outputs: ["model": "h5", "metrics": "json"], in: scratch, prefix: "grid"
        )
        let agent = thrownDescription { _ = try Prediction.predict(checkpoint: grid["model"]!, input: iris.test, threads: 1) }
        #expect(agent == "model/predict: \(grid["model"]!) is a reinforcement-learning model, which acts in an environment rather than on data; evaluate it with eval/rl")

        // A dataset whose features are not the model's, and a file named .h5 that is not HDF5.
        let wine = try await runOp(
            "data/import-csv", ["path": .value(.string(datasetPath("wine.csv"))), "label": .value(.string("cultivar"))], outputs: ["dataset": "h5"], in: scratch, prefix: "wine"
        )
        let other = thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: wine["dataset"]!, threads: 1) }
        #expect(other?.hasPrefix("\(wine["dataset"]!): its features (") == true)
        let fake = try scratch.file("fake.h5", "sepal_length_cm\n1\n")
        #expect(Prediction.inputFormat(of: fake) == .hdf5)
        #expect(thrownDescription { _ = try Prediction.predict(checkpoint: iris.model, input: fake, threads: 1) } != nil)
        let notAModel = thrownDescription { _ = try Prediction.predict(checkpoint: iris.test, input: iris.test, threads: 1) }
        #expect(notAModel != nil)
    }
}
