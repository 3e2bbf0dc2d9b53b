// The Swift side of the HDF5 benchmark (see benchmarks/README.md): generates the dataset and times
// whole reads and random minibatch reads through Blacktail's dataset reader.
//
// usage: blacktail-hdf5-benchmark generate PATH ROWS FEATURES
//        blacktail-hdf5-benchmark read-whole PATH REPEATS
//        blacktail-hdf5-benchmark minibatches PATH BATCHES BATCH_ROWS SEED
import BlacktailData
import Foundation

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let arguments = CommandLine.arguments.dropFirst()
guard let command = arguments.first else {
    FileHandle.standardError.write(Data("usage: blacktail-hdf5-benchmark generate|read-whole|minibatches ...\n".utf8))
    exit(64)
}
let values = Array(arguments.dropFirst())
do {
    switch command {
    case "generate":
        let generator = DatasetGenerator(kind: .classification, rows: Int(values[1])!, features: Int(values[2])!, classes: 10, noise: 0.5, seed: 0)
        let writer = try DatasetWriter(path: values[0], featureNames: generator.featureNames)
        try generator.generate(blockRows: 65_536) { (features: [Float], targets: Dataset.Targets) throws(DatasetError) in
            if case .classes(let ids) = targets { try writer.append(features: features, classIDs: ids) }
        }
        try writer.finish(task: .classification, classes: generator.classNames, provenance: generator.provenance)
    case "read-whole":
        var samples: [Double] = []
        var checksum = 0.0
        for _ in 0..<Int(values[1])! {
            samples.append(try seconds {
                let dataset = try DatasetFile.read(values[0])
                checksum += Double(dataset.features[dataset.features.count / 2])
            })
        }
        print(String(format: "%.4f", median(samples)), checksum)
    case "minibatches":
        let reader = try DatasetReader(path: values[0])
        var random = SeededRandom(seed: UInt64(values[3])!)
        let batches = Int(values[1])!
        let batchRows = Int(values[2])!
        var checksum = 0.0
        let elapsed = try seconds {
            for _ in 0..<batches {
                let indices = (0..<batchRows).map { _ in random.nextIndex(below: reader.rowCount) }
                let batch = try reader.readRows(at: indices)
                checksum += Double(batch.features[0])
            }
        }
        print(String(format: "%.4f", elapsed), checksum)
    default:
        FileHandle.standardError.write(Data("unknown command \(command)\n".utf8))
        exit(64)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
