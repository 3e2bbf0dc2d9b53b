import BlacktailData
import Foundation
import Testing

/// Files written by h5py are read by Blacktail, and Blacktail's files by h5py (installed by
/// scripts/setup.sh).
@Suite struct H5pyInteropTests {
    @Test func aDatasetWrittenByHandWithH5pyIsRead() throws {
        let scratch = try Scratch()
        let path = scratch.path("by-hand.h5")
        let script = """
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                f["features"] = np.arange(12, dtype=np.float64).reshape(4, 3) / 4
                f["targets"] = np.array([1, 0, -1, 2], dtype=np.int32)
                f.attrs["classes"] = ["cat", "dog", "émeu"]
                f.attrs["feature_names"] = ["a", "b", "c"]
                f.attrs["task"] = "classification"
                f.attrs["target_name"] = "animal"
            """
        let result = try python(script, [path])
        #expect(result.status == 0, "\(result.output)")
        let dataset = try DatasetFile.read(path)
        #expect(dataset.features == (0..<12).map { Float($0) / 4 })
        #expect(dataset.featureNames == ["a", "b", "c"])
        #expect(dataset.classes == ["cat", "dog", "émeu"])
        #expect(dataset.targets == .classes([1, 0, -1, 2]))
        #expect(dataset.targetName == "animal")
        #expect(try DatasetReader(path: path).readRows(at: [3, 0]).features == [2.25, 2.5, 2.75, 0, 0.25, 0.5])

        // Regression with float32 targets and nothing else.
        let regression = scratch.path("regression.h5")
        let plain = """
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                f.create_dataset("features", data=np.ones((3, 2), dtype=np.float32), chunks=(2, 2), compression="gzip", shuffle=True)
                f["targets"] = np.array([0.5, 1.5, 2.5], dtype=np.float32)
            """
        #expect(try python(plain, [regression]).status == 0)
        let read = try DatasetFile.read(regression)
        #expect(read.task == .regression)
        #expect(read.targets == .values([0.5, 1.5, 2.5]))
    }

    @Test func aBlacktailDatasetIsReadByH5py() throws {
        let scratch = try Scratch()
        let path = scratch.path("blacktail.h5")
        try DatasetFile.write(DatasetFileTests.iris, to: path, compression: 4)
        let script = """
            import sys, json, h5py, numpy as np
            with h5py.File(sys.argv[1], "r") as f:
                out = {
                    "features_shape": list(f["features"].shape),
                    "features_dtype": str(f["features"].dtype),
                    "targets_dtype": str(f["targets"].dtype),
                    "targets": f["targets"][:].tolist(),
                    "row1": [round(float(v), 4) for v in f["features"][1]],
                    "attrs": {k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()},
                }
                out["attrs"] = {k: ([x.decode() if isinstance(x, bytes) else x for x in v] if isinstance(v, list) else (v.decode() if isinstance(v, bytes) else v)) for k, v in out["attrs"].items()}
            print(json.dumps(out, sort_keys=True))
            """
        let result = try python(script, [path])
        #expect(result.status == 0, "\(result.output)")
        let document = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect(document?["features_shape"] as? [Int] == [3, 4])
        #expect(document?["features_dtype"] as? String == "float32")
        #expect(document?["targets_dtype"] as? String == "int64")
        #expect(document?["targets"] as? [Int] == [0, 1, 2])
        #expect(document?["row1"] as? [Double] == [7.0, 3.2, 4.7, 1.4])
        let attributes = document?["attrs"] as? [String: Any]
        #expect(attributes?["format"] as? String == "blacktail.dataset/1")
        #expect(attributes?["task"] as? String == "classification")
        #expect(attributes?["classes"] as? [String] == ["setosa", "versicolor", "virginica"])
        #expect(attributes?["feature_names"] as? [String] == ["sepal_length", "sepal_width", "petal_length", "petal_width"])
        #expect(attributes?["created_by"] as? String == "data/import-csv@1")
    }
}

extension H5pyInteropTests {
    @Test func textInEitherCharacterSetIsRead() throws {
        let scratch = try Scratch()
        let path = scratch.path("text.h5")
        let script = """
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                f["features"] = np.zeros((2, 2), dtype=np.float32)
                f["targets"] = np.array([0, 1])
                f.attrs.create("classes", np.array([b"no", b"yes"], dtype="S3"))
                f.attrs.create("feature_names", np.array(["é".encode(), b"b"], dtype="S4"), dtype=h5py.string_dtype("utf-8", 4))
                f.attrs.create("target_name", "answer", dtype=h5py.string_dtype("ascii"))
            """
        let result = try python(script, [path])
        #expect(result.status == 0, "\(result.output)")
        let dataset = try DatasetFile.read(path)
        #expect(dataset.classes == ["no", "yes"])
        #expect(dataset.featureNames == ["é", "b"])
        #expect(dataset.targetName == "answer")
    }
}
