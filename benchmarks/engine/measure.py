#!/usr/bin/env python3
"""Times make -j2, Blacktail, Snakemake and Prefect on generated DAG folders; prints a Markdown table.

usage: measure.py --blacktail BIN --python PY [--repeats R] [--timeout S] [--tools LIST] FOLDER...

PY is the Python that has Snakemake and Prefect (setup.sh prints it).

Each FOLDER is one written by generate.py (named SHAPE-N). Every measurement is the wall-clock time
(time.perf_counter around the whole command: process start, reading the DAG, running every task, exit)
from a clean state:
  make       `make -j2` in a new empty stamps/
  blacktail  `blacktail run pipeline.yaml --home FRESH --plain --no-cache --concurrency 2 --cpus 2
             --gpus none`, FRESH a new empty folder each time
  snakemake  `PY -m snakemake --cores 2 --quiet` without stamps/ and .snakemake/ (its
             metadata)
  prefect    `PY flow.py` with Prefect's local ephemeral API server; PREFECT_HOME
             (generated/prefect-home) is kept between runs (setup.sh created its database once), so
             starting the server is in the time but migrating its database is not
What a run leaves (stamps/, .snakemake/, Blacktail's home) is moved aside, not deleted, before
the next run, and everything moved aside is deleted when the measurement ends: on a file system
without a journal (ext4 as this machine has it), creating files within seconds of deleting
thousands makes each new inode search past the deleted ones (ext4's recently_deleted check), which
would charge one tool's cleanup to the next tool's time (for up to 6 minutes: --keep-state leaves
it all, for measurements one after another).
Repeats are interleaved (one of each tool, then again) so that a busy moment on the shared machine
does not fall on one tool only. A run that fails, or leaves a task's stamp missing, stops the script;
one that passes --timeout is killed (its whole process group) and reported as "timed out".
Every single time goes to stderr as it is taken.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

TOOLS = ["make", "blacktail", "snakemake", "prefect"]


def shape_of(folder):
    match = re.fullmatch(r"(fanout|chain)-(\d+)", os.path.basename(os.path.normpath(folder)))
    if not match:
        raise SystemExit(f"{folder}: expected a folder named fanout-N or chain-N (from generate.py)")
    shape, n = match.group(1), int(match.group(2))
    return shape, n, (n + 2 if shape == "fanout" else n)


def run(command, cwd, env, timeout, log):
    """Seconds the command took, or None when it passed the timeout."""
    with open(log, "w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
        seconds = time.perf_counter() - start
    if status != 0:
        sys.stderr.write(open(log).read()[-3000:])
        raise SystemExit(f"{command[0]} failed with status {status} in {cwd} (log: {log})")
    try:  # the process group may have left something behind (Prefect's server); end it
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return seconds


def set_aside(path, trash):
    """Moves what a run left into the trash folder, which main() deletes at the end."""
    if os.path.lexists(path):
        os.rename(path, os.path.join(trash, uuid.uuid4().hex))


def check_stamps(folder, shape, n, tool):
    names = ["source", "sink"] + [f"t{i}" for i in range(n)] if shape == "fanout" else [f"t{i}" for i in range(n)]
    missing = [name for name in names if not os.path.exists(os.path.join(folder, "stamps", name))]
    if missing:
        raise SystemExit(f"{tool} in {folder}: {len(missing)} stamp files missing, such as {missing[0]}")


def measure(tool, folder, args, logs, trash):
    shape, n, tasks = shape_of(folder)
    log = os.path.join(logs, f"{os.path.basename(os.path.normpath(folder))}-{tool}.log")
    env = dict(os.environ)
    if tool == "make":
        set_aside(os.path.join(folder, "stamps"), trash)
        os.mkdir(os.path.join(folder, "stamps"))
        seconds = run(["make", "-j2"], folder, env, args.timeout, log)
        if seconds is not None:
            check_stamps(folder, shape, n, tool)
        return seconds
    if tool == "snakemake":
        set_aside(os.path.join(folder, "stamps"), trash)
        set_aside(os.path.join(folder, ".snakemake"), trash)
        seconds = run([args.python, "-m", "snakemake", "--cores", "2", "--quiet"],
                      folder, env, args.timeout, log)
        if seconds is not None:
            check_stamps(folder, shape, n, tool)
        return seconds
    if tool == "blacktail":
        home = tempfile.mkdtemp(prefix="home-", dir=trash)
        seconds = run([args.blacktail, "run", "pipeline.yaml", "--home", home, "--plain", "--no-cache",
                       "--concurrency", "2", "--cpus", "2", "--gpus", "none"], folder, env, args.timeout, log)
        if seconds is not None:
            # the summary at the end has one line per step: "  ✓ NAME  succeeded  0.0s  on WORKER"
            succeeded = sum(1 for line in open(log, encoding="utf-8", errors="replace")
                            if re.match(r"\s*✓ \S+\s+succeeded\b", line))
            if succeeded != tasks:
                raise SystemExit(f"blacktail in {folder}: {succeeded} steps succeeded, expected {tasks} (log: {log})")
        return seconds
    if tool == "prefect":
        env.pop("PREFECT_API_URL", None)  # no server configured: Prefect starts its ephemeral one
        env.update(prefect_environment())
        seconds = run([args.python, "flow.py"], folder, env, args.timeout, log)
        if seconds is not None:
            flow = re.findall(r"flow-seconds ([0-9.]+)", open(log, encoding="utf-8", errors="replace").read())
            if not flow:
                raise SystemExit(f"prefect in {folder}: the flow did not finish (log: {log})")
        return seconds
    raise SystemExit(f"unknown tool {tool}")


def prefect_environment():
    """Prefect without a server of its own or a network: the ephemeral local API server (a uvicorn
    process on 127.0.0.1 that the flow starts and stops), given time to start on a busy machine."""
    return {
        "PREFECT_HOME": os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated", "prefect-home"),
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blacktail", required=True)
    parser.add_argument("--python", required=True, help="the Python with Snakemake and Prefect (setup.sh prints it)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--keep-state", action="store_true",
                        help="leave what the runs left (its folder is printed) so that a measurement right after is not slowed by its deletion")
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args()
    args.blacktail = os.path.abspath(args.blacktail)
    if os.sep in args.python:
        args.python = os.path.abspath(args.python)
    tools = args.tools.split(",")
    logs = os.path.join(os.path.dirname(os.path.abspath(args.folders[0])), "logs")
    os.makedirs(logs, exist_ok=True)
    samples_log = open(os.path.join(logs, "samples.txt"), "a", encoding="utf-8")

    def note(line):
        sys.stderr.write(line + "\n")
        samples_log.write(line + "\n")
        samples_log.flush()

    note(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv[1:])}")
    # On the file system of the folders, so that setting aside is a rename.
    trash = tempfile.mkdtemp(prefix="trash-", dir=os.path.dirname(os.path.abspath(args.folders[0])))
    try:
        rows = measure_all(args, tools, logs, trash, note)
    finally:
        if args.keep_state:
            note(f"# what the runs left is in {trash}")
        else:
            shutil.rmtree(trash, ignore_errors=True)
    report(args, tools, rows)


def measure_all(args, tools, logs, trash, note):
    rows = []
    for folder in args.folders:
        shape, n, tasks = shape_of(folder)
        samples = {tool: [] for tool in tools}
        timed_out = set()
        for repeat in range(args.repeats):
            for tool in tools:
                if tool in timed_out:
                    continue  # one time-out is enough: do not spend the limit again
                seconds = measure(tool, folder, args, logs, trash)
                extra = ""
                if tool == "prefect" and seconds is not None:
                    flow = re.findall(r"flow-seconds ([0-9.]+)", open(os.path.join(logs, f"{os.path.basename(os.path.normpath(folder))}-prefect.log"), encoding="utf-8", errors="replace").read())
                    extra = f" (inside the flow, server start-up included: {flow[-1]} s)"
                note(f"{shape} N={n} {tool} run {repeat + 1}: "
                     f"{'timed out' if seconds is None else f'{seconds:.3f} s'}{extra}")
                if seconds is None:
                    timed_out.add(tool)
                else:
                    samples[tool].append(seconds)
        medians = {tool: None if tool in timed_out else statistics.median(samples[tool]) for tool in tools}
        rows.append((shape, n, tasks, medians))
    return rows


def report(args, tools, rows):
    def cell(value):
        return "timed out" if value is None else f"{value:.2f}"

    def ratio(value, reference):
        return "–" if value is None or reference is None else f"{value / reference:.2f}"

    header = ["shape", "N", "tasks"]
    for tool in tools:
        header.append(f"{tool} s")
        if tool != "make" and "make" in tools:
            header.append(f"{tool} / make")
    print(f"Median of {args.repeats} wall-clock runs per cell, seconds (timeout {args.timeout:.0f} s).")
    print()
    print("| " + " | ".join(header) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * (len(header) - 3))
    for shape, n, tasks, medians in rows:
        cells = [shape, str(n), str(tasks)]
        for tool in tools:
            cells.append(cell(medians[tool]))
            if tool != "make" and "make" in tools:
                cells.append(ratio(medians[tool], medians["make"]))
        print("| " + " | ".join(cells) + " |")

    # With a one-task DAG among the folders: what each further task costs, start-up taken out.
    single = [medians for shape, n, tasks, medians in rows if tasks == 1]
    if single:
        print()
        print("Cost of each task beyond a one-task DAG (start-up, reading the DAG and the first task),")
        print("milliseconds: (median for the shape - median for one task) / (tasks - 1).")
        print()
        print("| shape | tasks | " + " | ".join(f"{tool} ms/task" for tool in tools) + " |")
        print("| --- | ---: |" + " ---: |" * len(tools))
        for shape, n, tasks, medians in rows:
            if tasks == 1:
                continue
            cells = [shape, str(tasks)]
            for tool in tools:
                if medians[tool] is None or single[0][tool] is None:
                    cells.append("–")
                else:
                    cells.append(f"{1000 * (medians[tool] - single[0][tool]) / (tasks - 1):.1f}")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
