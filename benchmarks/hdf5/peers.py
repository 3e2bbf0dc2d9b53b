#!/usr/bin/env python3
"""The Python side of the HDF5 benchmark: h5py and pandas doing what Blacktail does.

usage: peers.py read-whole PATH REPEATS
       peers.py minibatches PATH BATCHES BATCH_ROWS SEED
       peers.py write-csv H5PATH CSVPATH
       peers.py import-csv CSVPATH H5PATH      (pandas.read_csv, then h5py writes /features and /targets)
"""
import statistics
import sys
import time

import h5py
import numpy as np


def read_whole(path, repeats):
    samples = []
    checksum = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        with h5py.File(path, "r") as f:
            features = f["features"][:]
            targets = f["targets"][:]
        samples.append(time.perf_counter() - start)
        checksum += float(features[features.shape[0] // 2, 0]) + int(targets[0])
    print(f"{statistics.median(samples):.4f}", checksum)


def minibatches(path, batches, batch_rows, seed):
    generator = np.random.default_rng(seed)
    checksum = 0.0
    with h5py.File(path, "r") as f:
        features = f["features"]
        targets = f["targets"]
        rows = features.shape[0]
        start = time.perf_counter()
        for _ in range(batches):
            indices = generator.integers(0, rows, batch_rows)
            # h5py wants increasing, unique indices; the batch is put back in the drawn order after.
            unique, inverse = np.unique(indices, return_inverse=True)
            batch = features[unique][inverse]
            labels = targets[unique][inverse]
            checksum += float(batch[0, 0]) + int(labels[0])
        elapsed = time.perf_counter() - start
    print(f"{elapsed:.4f}", checksum)


def write_csv(h5_path, csv_path):
    import pandas as pd
    with h5py.File(h5_path, "r") as f:
        features = f["features"][:]
        targets = f["targets"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["feature_names"]]
    frame = pd.DataFrame(features, columns=names)
    frame["label"] = [f"class_{t}" for t in targets]
    frame.to_csv(csv_path, index=False, float_format="%.5g")


def import_csv(csv_path, h5_path):
    import pandas as pd
    start = time.perf_counter()
    frame = pd.read_csv(csv_path)
    labels = frame.pop("label")
    classes = sorted(labels.unique())
    codes = labels.map({name: index for index, name in enumerate(classes)}).to_numpy(dtype=np.int64)
    with h5py.File(h5_path, "w") as f:
        f["features"] = frame.to_numpy(dtype=np.float32)
        f["targets"] = codes
        f.attrs["classes"] = classes
        f.attrs["feature_names"] = list(frame.columns)
    print(f"{time.perf_counter() - start:.4f}")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "read-whole":
        read_whole(arguments[0], int(arguments[1]))
    elif command == "minibatches":
        minibatches(arguments[0], int(arguments[1]), int(arguments[2]), int(arguments[3]))
    elif command == "write-csv":
        write_csv(arguments[0], arguments[1])
    elif command == "import-csv":
        import_csv(arguments[0], arguments[1])
    else:
        sys.exit(f"unknown command {command}")
