#!/usr/bin/env python3
"""Writes a generated pipeline of N steps for the compiler benchmark.

usage: generate.py SHAPE STEPS OUTPUT
  chain: each step reads the previous step's output (the longest dependency path there can be);
         steps alternate between an op (data/split, whose arguments are checked against its
         signature) and a `run:` command with declared inputs and outputs.
  wide:  one step writes a dataset and every other step reads it (the widest fan-out there can be).
"""
import sys


def chain(steps):
    lines = ["version: 1", "name: chain", "params:", "  seed: 0", "steps:",
             "  s0:", "    uses: data/generate",
             "    with: {kind: blobs, rows: 1000, features: 8, seed: '${{ params.seed }}'}"]
    for index in range(1, steps):
        previous = f"s{index - 1}"
        output = "dataset" if index == 1 else ("train" if index % 2 == 0 else "out")
        source = f"${{{{ steps.{previous}.outputs.{output} }}}}"
        if index % 2 == 0:
            lines += [f"  s{index}:", "    run: sort ${{ inputs.data }} > ${{ outputs.out }}",
                      "    inputs:", f"      data: {source}", "    outputs:", "      out: dataset"]
        else:
            lines += [f"  s{index}:", "    uses: data/split", "    with:", f"      input: {source}",
                      "      train: 0.9", "      test: 0.1", "      seed: ${{ params.seed }}"]
    return lines


def wide(steps):
    lines = ["version: 1", "name: wide", "params:", "  seed: 0", "steps:",
             "  source:", "    uses: data/generate",
             "    with: {kind: blobs, rows: 1000, features: 8, seed: '${{ params.seed }}'}"]
    for index in range(1, steps):
        lines += [f"  s{index}:", "    uses: data/split", "    with:",
                  "      input: ${{ steps.source.outputs.dataset }}", f"      seed: {index}"]
    return lines


def main():
    shape, steps, output = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lines = {"chain": chain, "wide": wide}[shape](steps)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
