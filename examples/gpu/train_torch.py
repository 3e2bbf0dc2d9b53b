#!/usr/bin/env python3
"""Trains a small PyTorch network on a Blacktail dataset, on the GPU the step was given.

Used by examples/gpu/digits-torch.yaml as a `run:` step with `resources.gpu: 1`: the worker or
agent that runs it sets CUDA_VISIBLE_DEVICES to the one GPU it reserved, so `cuda:0` here is that
GPU. It reads the Blacktail dataset layout (`/features` N x D float32, `/targets` N int64 class
ids; docs/formats.md §2) with h5py, trains a multilayer perceptron with full-batch Adam, and
writes the weights (`torch.save` of the state dict), the test metrics (numbers only, as a
Blacktail metrics file must be) and what it ran on (the device, its name, torch's version). It needs torch, h5py and numpy, which the node provides; Blacktail does not.

usage: train_torch.py --train TRAIN.h5 --test TEST.h5 --model OUT.pt --metrics OUT.json --device-info OUT.json
                      [--hidden 128] [--epochs 300] [--learning-rate 0.01] [--seed 0] [--allow-cpu]
"""
import argparse
import json
import os
import time

import h5py
import numpy as np
import torch


def read(path, device):
    with h5py.File(path, "r") as handle:
        features = torch.tensor(np.asarray(handle["features"], dtype=np.float32), device=device)
        targets = torch.tensor(np.asarray(handle["targets"], dtype=np.int64).reshape(-1), device=device)
    return features, targets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--device-info", required=True)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when no GPU is visible")
    arguments = parser.parse_args()

    if torch.cuda.is_available():
        device = torch.device("cuda:0")
    elif arguments.allow_cpu:
        device = torch.device("cpu")
    else:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)")
        raise SystemExit(f"no CUDA device is visible (CUDA_VISIBLE_DEVICES={visible}); give the step a GPU or pass --allow-cpu")

    torch.manual_seed(arguments.seed)
    torch.use_deterministic_algorithms(True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    train_x, train_y = read(arguments.train, device)
    test_x, test_y = read(arguments.test, device)
    # Standardise with the training set's statistics.
    mean, std = train_x.mean(dim=0), train_x.std(dim=0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max().item(), test_y.max().item())) + 1

    model = torch.nn.Sequential(
        torch.nn.Linear(train_x.shape[1], arguments.hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(arguments.hidden, classes),
    ).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=arguments.learning_rate)
    loss_function = torch.nn.CrossEntropyLoss()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for epoch in range(arguments.epochs):
        optimiser.zero_grad()
        loss = loss_function(model(train_x), train_y)
        loss.backward()
        optimiser.step()
        if epoch % 50 == 0 or epoch == arguments.epochs - 1:
            print(f"epoch {epoch + 1}/{arguments.epochs} loss {loss.item():.4f}", flush=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started

    with torch.no_grad():
        accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
    torch.save({"state_dict": model.state_dict(), "mean": mean.cpu(), "std": std.cpu()}, arguments.model)
    metrics = {"accuracy": accuracy, "final_loss": loss.item(), "train_seconds": seconds}
    device_info = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "torch": torch.__version__,
    }
    with open(arguments.metrics, "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, sort_keys=True)
    with open(arguments.device_info, "w", encoding="utf-8") as handle:
        json.dump(device_info, handle, sort_keys=True)
    print(json.dumps({**metrics, **device_info}, sort_keys=True))


if __name__ == "__main__":
    main()
