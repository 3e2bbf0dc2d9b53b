#!/usr/bin/env python3
"""The Python side of the frameworks benchmark: scikit-learn and PyTorch on the same files.

usage: peers.py FRAMEWORK TRAIN.h5 TEST.h5 THREADS [EPOCHS]
FRAMEWORK: logistic | kmeans | pca | forest | boosted (scikit-learn), mlp-torch (PyTorch),
mlp-sklearn (scikit-learn). For forest and boosted, EPOCHS is the number of trees or rounds (100 when
not given). Prints "seconds score" like blacktail-frameworks-benchmark.
"""
import sys
import time

import h5py
import numpy as np
from threadpoolctl import threadpool_limits


def load(path):
    with h5py.File(path, "r") as f:
        return f["features"][...].astype(np.float32), f["targets"][...].astype(np.int64)


def main():
    framework, train_path, test_path, threads = sys.argv[1:5]
    epochs = int(sys.argv[5]) if len(sys.argv) > 5 else None
    threads = int(threads)
    x, y = load(train_path)
    tx, ty = load(test_path)
    classes = int(y.max()) + 1
    # Imports and library set-up are not timed.
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    if framework == "mlp-torch":
        import torch
        torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        if framework == "logistic":
            model = LogisticRegression(max_iter=100).fit(x, y)
            score = float((model.predict(tx) == ty).mean())
        elif framework == "kmeans":
            model = KMeans(n_clusters=classes, n_init=10, init="k-means++", max_iter=300, random_state=0).fit(x)
            score = float(model.inertia_)
        elif framework == "pca":
            model = PCA(n_components=16, svd_solver="covariance_eigh").fit(x)
            score = float(model.explained_variance_ratio_.sum())
        elif framework == "forest":
            model = RandomForestClassifier(n_estimators=epochs or 100, n_jobs=threads, random_state=0).fit(x, y)
            score = float((model.predict(tx) == ty).mean())
        elif framework == "boosted":
            model = HistGradientBoostingClassifier(max_iter=epochs or 100, learning_rate=0.1, max_leaf_nodes=31,
                                                   early_stopping=False, random_state=0).fit(x, y)
            score = float((model.predict(tx) == ty).mean())
        elif framework == "mlp-sklearn":
            model = MLPClassifier(hidden_layer_sizes=(64,), batch_size=64, learning_rate_init=0.001, alpha=1e-4,
                                  max_iter=epochs or 20, n_iter_no_change=10**9, random_state=0).fit(x, y)
            score = float((model.predict(tx) == ty).mean())
        elif framework == "mlp-torch":
            torch.manual_seed(0)
            network = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, classes))
            optimizer = torch.optim.Adam(network.parameters(), lr=0.001, weight_decay=1e-4)
            features, targets = torch.from_numpy(x), torch.from_numpy(y)
            generator = torch.Generator().manual_seed(0)
            for _ in range(epochs or 20):
                order = torch.randperm(len(features), generator=generator)
                for batch in order.split(64):
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(network(features[batch]), targets[batch])
                    loss.backward()
                    optimizer.step()
            with torch.no_grad():
                score = float((network(torch.from_numpy(tx)).argmax(1).numpy() == ty).mean())
        else:
            sys.exit(f"unknown framework {framework}")
        elapsed = time.perf_counter() - start
    print(f"{elapsed:.4f} {score:.6f}")


if __name__ == "__main__":
    main()
