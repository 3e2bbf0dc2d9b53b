"""Dispatch latency and throughput of a cluster on this machine: a coordinator (`blacktail serve`)
over a store, agents (`blacktail agent`) and a client, all real processes on loopback.

Run by benchmarks/cluster/cluster.sh, which builds blacktail and starts PostgreSQL. Prints one
line per measurement and writes them as JSON to the file given with --json.

- dispatch: a chain of `run:` steps whose labels alternate between two agents, so that each step
  becomes ready while the agent that will run it waits in a long poll. Latency from the moment
  the task became ready (the commit of its predecessor's report, `finishedAt` in the store) to
  the store's claim (`startedAt`), and to the step's command starting (its own clock).
- throughput: one source, N no-op tasks (`run: "true"`) in parallel, one sink, through the
  coordinator and four agents; and the same file with `blacktail run` on one machine.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, blacktail, work, store, name):
        self.blacktail = blacktail
        self.folder = os.path.join(work, name)
        os.makedirs(self.folder)
        self.store = ["--home", os.path.join(self.folder, "coordinator")] + (["--store", store] if store else [])
        self.tag = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes = []

    def run(self, *arguments):
        return subprocess.run([self.blacktail, *arguments], check=True, capture_output=True, text=True).stdout

    def token(self, name, client=False):
        path = os.path.join(self.folder, f"{name}.token")
        self.run("nodes", "add", f"{name}-{self.tag}", "--token-file", path, *(["--client"] if client else []), *self.store)
        return path

    def start(self, name, *arguments):
        log = open(os.path.join(self.folder, f"{name}.log"), "w")
        self.processes.append(subprocess.Popen([self.blacktail, *arguments], stdout=log, stderr=subprocess.STDOUT))

    def serve(self):
        self.start("coordinator", "serve", "--listen", f"127.0.0.1:{self.port}", "--schedule-interval", "0", *self.store)
        log = os.path.join(self.folder, "coordinator.log")
        while "listening on" not in open(log).read():
            time.sleep(0.1)
        self.client_token = self.token("bench-client", client=True)

    def agent(self, name, concurrency, labels=""):
        token = self.token(name)
        self.start(name, "agent", "--coordinator", self.url, "--token", token, "--work-dir", os.path.join(self.folder, name),
                   "--concurrency", str(concurrency), "--cpus", str(concurrency), "--gpus", "none", "--labels", labels)

    def submit(self, yaml):
        path = os.path.join(self.folder, f"pipeline-{time.time_ns()}.yaml")
        open(path, "w").write(yaml)
        started = time.time()
        run = self.run("submit", path, "--coordinator", self.url, "--token", self.client_token,
                       "--home", os.path.join(self.folder, "client")).strip().splitlines()[-1]
        return run, started

    def detail(self, run):
        token = open(self.client_token).read().strip()
        request = urllib.request.Request(f"{self.url}/v1/runs/{run}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def wait(self, run):
        while True:
            detail = self.detail(run)
            if detail["run"]["state"] in ("succeeded", "failed", "cancelled"):
                return detail
            time.sleep(0.2)

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def dispatch(cluster, steps):
    marks = os.path.join(cluster.folder, "starts")
    yaml = "version: 1\nname: dispatch\nsteps:\n"
    for index in range(steps):
        yaml += f"  s{index}:\n    run: echo {index} $(date +%s.%N) >> {marks}\n    resources: {{ labels: [{'a' if index % 2 == 0 else 'b'}] }}\n"
        if index:
            yaml += f"    needs: s{index - 1}\n"
    run, _ = cluster.submit(yaml)
    detail = cluster.wait(run)
    assert detail["run"]["state"] == "succeeded", detail["run"]["state"]
    tasks = {task["spec"]["nodeID"]: task for task in detail["tasks"]}
    starts = {}
    for line in open(marks):
        index, stamp = line.split()
        starts[int(index)] = float(stamp)
    claimed, started = [], []
    for index in range(1, steps):
        ready = tasks[f"s{index - 1}"]["finishedAt"]
        claimed.append((tasks[f"s{index}"]["startedAt"] - ready) * 1000)
        started.append((starts[index] - ready) * 1000)
    return {
        "steps": steps,
        "ready_to_claimed_ms": {"p50": percentile(claimed, 0.5), "p90": percentile(claimed, 0.9), "max": max(claimed)},
        "ready_to_command_ms": {"p50": percentile(started, 0.5), "p90": percentile(started, 0.9), "max": max(started)},
    }


def fan_out(count):
    yaml = 'version: 1\nname: fanout\nsteps:\n  source:\n    run: "true"\n'
    for index in range(count):
        yaml += f'  t{index}:\n    run: "true"\n    needs: source\n'
    yaml += "  sink:\n    run: \"true\"\n    needs: [" + ", ".join(f"t{index}" for index in range(count)) + "]\n"
    return yaml


def throughput(cluster, count):
    run, submitted = cluster.submit(fan_out(count))
    detail = cluster.wait(run)
    finished = time.time()
    assert detail["run"]["state"] == "succeeded", detail["run"]["state"]
    seconds = detail["run"]["finishedAt"] - detail["run"]["submittedAt"]
    workers = {}
    for task in detail["tasks"]:
        workers[task["worker"]] = workers.get(task["worker"], 0) + 1
    return {"tasks": count + 2, "seconds": seconds, "tasks_per_second": (count + 2) / seconds,
            "wall_seconds_with_submit": finished - submitted, "tasks_per_agent": workers}


def local(blacktail, work, count):
    folder = os.path.join(work, "local")
    os.makedirs(folder)
    path = os.path.join(folder, "fanout.yaml")
    open(path, "w").write(fan_out(count))
    started = time.time()
    subprocess.run([blacktail, "run", path, "--home", os.path.join(folder, "home"), "--plain"], check=True, capture_output=True)
    seconds = time.time() - started
    return {"tasks": count + 2, "seconds": seconds, "tasks_per_second": (count + 2) / seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--blacktail", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--postgres", help="a database URL; without it the coordinator uses SQLite")
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--json")
    arguments = parser.parse_args()
    results = {}
    for name, store in [("sqlite", None)] + ([("postgres", arguments.postgres)] if arguments.postgres else []):
        cluster = Cluster(arguments.blacktail, arguments.work, store, name)
        try:
            cluster.serve()
            cluster.agent("agent-a", 1, "a")
            cluster.agent("agent-b", 1, "b")
            time.sleep(1)
            results[f"{name}.dispatch"] = dispatch(cluster, arguments.chain)
            print(name, "dispatch", json.dumps(results[f"{name}.dispatch"]), flush=True)
            cluster.stop()
            cluster = Cluster(arguments.blacktail, arguments.work, store, name + "-throughput")
            cluster.serve()
            for index in range(4):
                cluster.agent(f"agent-{index}", 2)
            time.sleep(1)
            results[f"{name}.throughput"] = throughput(cluster, arguments.tasks)
            print(name, "throughput", json.dumps(results[f"{name}.throughput"]), flush=True)
        finally:
            cluster.stop()
    results["local.throughput"] = local(arguments.blacktail, arguments.work, arguments.tasks)
    print("local throughput", json.dumps(results["local.throughput"]), flush=True)
    if arguments.json:
        json.dump(results, open(arguments.json, "w"), indent=2)


if __name__ == "__main__":
    sys.exit(main())
