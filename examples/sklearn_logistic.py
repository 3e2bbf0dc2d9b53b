#!/usr/bin/env python3
"""Trains scikit-learn's logistic regression on Blacktail datasets and writes its test metrics.

Used by pipelines/breast-cancer-custom.yaml as a `run:` step, to compare an outside framework with
Blacktail's built-in one on the same split. It reads the Blacktail dataset layout:
`/features` (N x D float32) and `/targets` (N, int64 class ids). It needs h5py and scikit-learn, which
the step's environment provides; Blacktail itself does not depend on them.

usage: sklearn_logistic.py --train TRAIN.h5 --test TEST.h5 --metrics OUT.json [--C 1.0] [--seed 0]
"""
import argparse
import json

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler


def read(path):
    with h5py.File(path, "r") as handle:
        return np.asarray(handle["features"], dtype=np.float64), np.asarray(handle["targets"], dtype=np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    train_x, train_y = read(arguments.train)
    test_x, test_y = read(arguments.test)
    scaler = StandardScaler().fit(train_x)
    model = LogisticRegression(C=arguments.C, random_state=arguments.seed, max_iter=1000)
    model.fit(scaler.transform(train_x), train_y)
    predicted = model.predict(scaler.transform(test_x))
    metrics = {
        "accuracy": float(accuracy_score(test_y, predicted)),
        "f1_macro": float(f1_score(test_y, predicted, average="macro")),
    }
    with open(arguments.metrics, "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, sort_keys=True)


if __name__ == "__main__":
    main()
