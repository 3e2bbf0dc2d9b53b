#!/usr/bin/env python3
"""Writes one DAG shape as the same graph of `true` commands for four tools.

usage: generate.py SHAPE N FOLDER

SHAPE is `fanout` (one source, N tasks that each need it, one sink that needs all N: N + 2 tasks)
or `chain` (N tasks, each needing the one before). Into FOLDER it writes:

  pipeline.yaml  Blacktail: one `run: 'true'` step per task, dependencies as `needs:`.
  Makefile       make: one explicit rule per task whose recipe runs `true` and writes the task's
                 stamp file (`true > stamps/NAME`, one shell per task), prerequisites the stamp
                 files of the tasks it needs; the default goal is the last task's stamp.
  Snakefile      Snakemake: the idiomatic form, one rule per kind of task with a wildcard
                 (`stamps/t{i}`), each running `shell: "true"` and declaring its stamp file as
                 `touch()` output, so Snakemake creates it after the command and tracks it.
  flow.py        Prefect 3: one @task that runs `true` with subprocess, submitted once per task with
                 `wait_for=` its dependencies, in a flow on ThreadPoolTaskRunner(max_workers=2).

Each tool runs from FOLDER with a fresh `stamps/` folder (run.sh and measure.py see to that).
"""
import os
import sys


def tasks(shape, n):
    """(name, [names it needs]) in an order where every task comes after what it needs."""
    if shape == "fanout":
        yield "source", []
        for i in range(n):
            yield f"t{i}", ["source"]
        yield "sink", [f"t{i}" for i in range(n)]
    elif shape == "chain":
        yield "t0", []
        for i in range(1, n):
            yield f"t{i}", [f"t{i - 1}"]
    else:
        raise SystemExit(f"unknown shape {shape!r}: use fanout or chain")


def blacktail_yaml(shape, n):
    lines = ["version: 1", f"name: {shape}-{n}", "steps:"]
    for name, needs in tasks(shape, n):
        lines.append(f"  {name}:")
        if len(needs) == 1:
            lines.append(f"    needs: {needs[0]}")
        elif needs:
            lines.append(f"    needs: [{', '.join(needs)}]")
        lines.append("    run: 'true'")
    return "\n".join(lines) + "\n"


def makefile(shape, n):
    order = list(tasks(shape, n))
    last = order[-1][0]
    out = [f"# {shape}, N={n}: run with `make -j2` in this folder, after `mkdir stamps`.",
           f".DEFAULT_GOAL := stamps/{last}", ""]
    for name, needs in order:
        prerequisites = " ".join(f"stamps/{need}" for need in needs)
        out.append(f"stamps/{name}: {prerequisites}".rstrip())
        out.append(f"\t@true > $@")
    return "\n".join(out) + "\n"


def snakefile(shape, n):
    if shape == "fanout":
        return f'''# fanout, N={n}: run with `snakemake --cores 2` in this folder.
N = {n}

rule sink:
    input: expand("stamps/t{{i}}", i=range(N))
    output: touch("stamps/sink")
    shell: "true"

rule task:
    input: "stamps/source"
    output: touch("stamps/t{{i}}")
    wildcard_constraints: i=r"\\d+"
    shell: "true"

rule source:
    output: touch("stamps/source")
    shell: "true"
'''
    return f'''# chain, N={n}: run with `snakemake --cores 2` in this folder.
N = {n}

# Snakemake builds its DAG recursively, several Python frames per link: with Python's default limit
# of 1,000 frames a chain of 1,000 stops with "RecursionError: maximum recursion depth exceeded"
# (at stamps/t520), so the limit is raised here (a Snakefile is Python).
import sys
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * N + 1000))

rule last:
    input: f"stamps/t{{N - 1}}"

rule first:
    output: touch("stamps/t0")
    shell: "true"

rule link:
    input: lambda wildcards: f"stamps/t{{int(wildcards.i) - 1}}"
    output: touch("stamps/t{{i}}")
    wildcard_constraints: i=r"[1-9]\\d*"
    shell: "true"
'''


def prefect_flow(shape, n):
    if shape == "fanout":
        body = '''    source = true_command.with_options(name="source").submit()
    middle = [true_command.with_options(name=f"t{i}").submit(wait_for=[source]) for i in range(N)]
    sink = true_command.with_options(name="sink").submit(wait_for=middle)
    sink.result()'''
    else:
        body = '''    previous = true_command.with_options(name="t0").submit()
    for i in range(1, N):
        previous = true_command.with_options(name=f"t{i}").submit(wait_for=[previous])
    previous.result()'''
    return f'''# {shape}, N={n}: run with `python flow.py` (Prefect 3, local ephemeral API server).
import subprocess
import sys
import time

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

N = {n}


@task
def true_command():
    subprocess.run(["true"], check=True)


@flow(name="{shape}-{n}", task_runner=ThreadPoolTaskRunner(max_workers=2))
def dag():
{body}


if __name__ == "__main__":
    start = time.perf_counter()
    dag()
    # The time inside the flow, without importing Prefect or starting its server, for the notes.
    print(f"flow-seconds {{time.perf_counter() - start:.3f}}", file=sys.stderr)
'''


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    shape, n, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if n < 1:
        raise SystemExit("N must be at least 1")
    os.makedirs(folder, exist_ok=True)
    for name, text in [("pipeline.yaml", blacktail_yaml(shape, n)), ("Makefile", makefile(shape, n)),
                       ("Snakefile", snakefile(shape, n)), ("flow.py", prefect_flow(shape, n))]:
        with open(os.path.join(folder, name), "w", encoding="utf-8") as file:
            file.write(text)


if __name__ == "__main__":
    main()
