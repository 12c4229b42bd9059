"""Log compression benchmark: throughput, ratio and memory on 1,000,000 generated
lines, then grouping accuracy (GA) on Loghub-2k's 16 labelled systems.

Run: `.venv/bin/python -m benchmarks.bench_logs [--lines N] [--skip-throughput]`.
GA is computed as Loghub's evaluator does: a line is correct when the set of
lines the miner grouped with it is exactly the set sharing its true EventId.
The data is read in place from ../shared/data/loghub2k (or
$CLOUD_DOCTOR_LOGHUB_DIR); it is never copied into the repository. ONE miner
configuration (config/logs.yaml) is used for every system.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterator

from tools.logs import estimate_tokens, mine_templates, summarize_logs

REPO_ROOT = Path(__file__).resolve().parent.parent
LOGHUB_SYSTEMS = ("HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows",
                  "Linux", "Android", "HealthApp", "Apache", "Proxifier", "OpenSSH", "OpenStack", "Mac")
PUBLISHED = {"drain3, defaults": 0.73, "Drain, per-system regexes": 0.87, "Brain": 0.965}


# ---------------------------------------------------------------- generated lines

_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
          "oscar", "peggy", "trent", "victor", "walter", "admin", "root", "deploy", "backup"]
_PATHS = ["/api/v1/orders", "/api/v1/users", "/api/v1/cart", "/api/v2/search", "/static/app.js",
          "/login", "/checkout", "/api/v1/payments", "/api/v1/inventory", "/metrics"]
_TABLES = ["orders", "users", "payments", "inventory", "sessions", "carts"]
_SERVICES = ["api", "worker", "billing", "search", "gateway"]
_EXCEPTIONS = ["java.lang.NullPointerException", "java.net.SocketTimeoutException: Read timed out",
               "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available",
               "java.lang.IllegalStateException: Queue full"]


def _generators(rng: random.Random):
    """(weight, kind, make) triples; `make()` returns the message after the timestamp."""
    ip = lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"  # noqa: E731
    hexid = lambda n=16: "%0*x" % (n, rng.getrandbits(n * 4))  # noqa: E731
    uuid = lambda: f"{hexid(8)}-{hexid(4)}-4{hexid(3)}-a{hexid(3)}-{hexid(12)}"  # noqa: E731
    pod = lambda: f"{rng.choice(_SERVICES)}-{hexid(9)}-{hexid(5)}"  # noqa: E731
    return [
        (30, "access", lambda: f"INFO {rng.choice(_SERVICES)} request completed method={rng.choice(['GET', 'POST', 'PUT'])} "
                               f"path={rng.choice(_PATHS)}/{rng.randint(1, 99999)} status={rng.choice([200, 200, 200, 201, 204, 304])} "
                               f"duration_ms={rng.randint(1, 900)} request_id={uuid()}"),
        (12, "nginx", lambda: f"{ip()} - - \"GET {rng.choice(_PATHS)}?page={rng.randint(1, 50)} HTTP/1.1\" "
                              f"{rng.choice([200, 200, 404, 301])} {rng.randint(100, 90000)} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\""),
        (10, "health", lambda: f"DEBUG gateway health check ok upstream={pod()} latency={rng.random() * 5:.2f}ms"),
        (8, "cache", lambda: f'{{"level":"info","msg":"cache miss","key":"user:{rng.randint(1, 10**6)}","latency_ms":{rng.randint(0, 40)}}}'),
        (6, "login", lambda: f"INFO auth user {rng.choice(_USERS)} logged in from {ip()} session={hexid(32)}"),
        (5, "job", lambda: f"INFO worker job {uuid()} finished in {rng.randint(1, 600)}s processed {rng.randint(0, 10**5)} records"),
        (4, "slowq", lambda: f"WARN db slow query took {rng.randint(500, 9000)}ms: SELECT * FROM {rng.choice(_TABLES)} WHERE id = {rng.randint(1, 10**7)}"),
        (3, "retry", lambda: f"WARN billing retrying payment {hexid(12)} attempt {rng.randint(1, 5)}/5 after {rng.randint(1, 30)}s"),
        (3, "refused", lambda: f"ERROR api connection to db-primary.internal:5432 refused after {rng.randint(1, 5)} retries (pool={rng.randint(1, 20)}/20)"),
        (2, "timeout", lambda: f"ERROR gateway upstream timed out (110: Connection timed out) while reading response header from upstream, "
                               f"client: {ip()}, request: \"POST {rng.choice(_PATHS)} HTTP/1.1\""),
        (2, "exception", lambda: f"ERROR [pool-{rng.randint(1, 8)}-thread-{rng.randint(1, 64)}] c.e.OrderService - Failed to process order {rng.randint(1, 10**6)}"),
        (2, "stack", lambda: f"\tat com.example.orders.OrderService.process(OrderService.java:{rng.randint(40, 400)})"),
        (2, "cause", lambda: f"Caused by: {rng.choice(_EXCEPTIONS)}"),
        (2, "k8s", lambda: f"WARN kubelet Back-off restarting failed container {rng.choice(_SERVICES)} in pod {pod()}_default({uuid()})"),
        (1, "oom", lambda: f"ERROR kernel Out of memory: Killed process {rng.randint(1000, 60000)} (java) total-vm:{rng.randint(10**6, 10**7)}kB, "
                           f"anon-rss:{rng.randint(10**5, 10**6)}kB, file-rss:0kB, shmem-rss:0kB"),
        (1, "sshd", lambda: f"sshd[{rng.randint(1000, 60000)}]: Failed password for invalid user {rng.choice(_USERS)} from {ip()} port {rng.randint(1024, 65535)} ssh2"),
        (1, "disk", lambda: f"WARN node disk usage {rng.randint(80, 99)}% on /dev/nvme0n1p1 mounted at /var/lib/docker"),
        (1, "leak", lambda: f"INFO api config reloaded from s3://config-bucket/{rng.choice(_SERVICES)}/app.yaml "
                            f"with aws_secret_access_key={hexid(20)}{hexid(20)}"),
    ]


def generate_lines(n: int, seed: int = 7) -> Iterator[str]:
    """`n` realistic mixed log lines with ISO timestamps, deterministic for a seed."""
    rng = random.Random(seed)
    gens = _generators(rng)
    makers = [g[2] for g in gens]
    weights = [g[0] for g in gens]
    t = 1_714_564_800.0  # 2024-05-01T12:00:00Z
    batch = 10_000
    for start in range(0, n, batch):
        for make in rng.choices(makers, weights=weights, k=min(batch, n - start)):
            t += rng.random() * 0.01
            secs = int(t)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{int((t - secs) * 1000):03d}Z"
            yield f"{stamp} {make()}"


def bench_throughput(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.log"
        with path.open("w") as f:
            for line in generate_lines(n):
                f.write(line + "\n")
        size = path.stat().st_size
        start, cpu_start = time.perf_counter(), time.process_time()
        with path.open() as f:
            digest = summarize_logs(f, budget_tokens=2000, source=f"file:{path.name}")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    text = digest.to_text()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"lines": digest.total_lines, "wall_s": wall, "cpu_s": cpu, "lines_per_s": digest.total_lines / wall,
            "templates": digest.distinct_templates, "shown": len(digest.templates), "chars_in": size,
            "chars_out": len(text), "tokens_out": estimate_tokens(text), "peak_rss_mb": peak_kb / 1024,
            "digest": text}


# ----------------------------------------------------------------------- Loghub-2k


def loghub_dir() -> Path:
    env = os.environ.get("CLOUD_DOCTOR_LOGHUB_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "loghub2k"


def load_loghub(system: str, root: Path | None = None) -> tuple[list[str], list[str]]:
    """(messages, true EventIds) of one system's `*_structured_corrected.csv`."""
    folder = (root or loghub_dir()) / system
    path = next(folder.glob("*_structured_corrected.csv"))
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def grouping_accuracy(predicted: list, truth: list[str]) -> float:
    """Loghub's GA: the share of lines whose predicted group equals their true group exactly."""
    truth_sizes = Counter(truth)
    members: dict = defaultdict(list)
    for i, p in enumerate(predicted):
        members[p].append(i)
    correct = 0
    for idx in members.values():
        labels = {truth[i] for i in idx}
        if len(labels) == 1 and truth_sizes[truth[idx[0]]] == len(idx):
            correct += len(idx)
    return correct / len(truth) if truth else 0.0


def bench_loghub(root: Path | None = None) -> dict[str, float] | None:
    root = root or loghub_dir()
    if not root.is_dir():
        return None
    scores = {}
    for system in LOGHUB_SYSTEMS:
        messages, truth = load_loghub(system, root)
        scores[system] = grouping_accuracy(mine_templates(messages), truth)
    return scores


def _throughput_in_child(n: int) -> dict:
    """Measure in a fresh interpreter, so peak RSS is this benchmark's alone (ru_maxrss is a
    high-water mark of the whole process, and `make bench` runs other benchmarks in the same one)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_logs", "--throughput-only", "--lines", str(n)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"throughput run failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--show-digest", action="store_true", help="print the digest of the generated lines")
    parser.add_argument("--throughput-only", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)  # `python -m benchmarks logs`
    if args.throughput_only:
        print(json.dumps(bench_throughput(args.lines)))
        return 0

    print("== logs: template mining (tools/logs.py, config/logs.yaml)")
    if not args.skip_throughput:
        r = _throughput_in_child(args.lines)
        print(f"{'lines':<26}{r['lines']:>14,}")
        print(f"{'wall time':<26}{r['wall_s']:>13.1f}s   (target < 30 s; CPU {r['cpu_s']:.1f} s, one core)")
        print(f"{'throughput':<26}{r['lines_per_s']:>14,.0f} lines/s")
        print(f"{'templates':<26}{r['templates']:>14,}   ({r['shown']} shown within 2000 tokens)")
        print(f"{'ratio lines/templates':<26}{r['lines'] / max(r['templates'], 1):>14,.0f} : 1")
        print(f"{'ratio chars in/digest':<26}{r['chars_in'] / max(r['chars_out'], 1):>14,.0f} : 1"
              f"   ({r['chars_in']:,} -> {r['chars_out']:,} chars, ~{r['tokens_out']} tokens)")
        print(f"{'peak RSS':<26}{r['peak_rss_mb']:>13.0f}MB  (target < 500 MB; whole interpreter)")
        if args.show_digest:
            print(r["digest"])
    root = loghub_dir()
    start = time.perf_counter()
    scores = bench_loghub(root)
    if scores is None:
        print(f"\nGA on Loghub-2k skipped: {root} not found (set CLOUD_DOCTOR_LOGHUB_DIR)")
        return 0
    print(f"\nGrouping accuracy on Loghub-2k ({root}), one configuration for all systems:")
    print(f"{'system':<14}{'GA':>7}")
    for system, ga in scores.items():
        print(f"{system:<14}{ga:>7.3f}")
    average = sum(scores.values()) / len(scores)
    print(f"{'average':<14}{average:>7.3f}   ({time.perf_counter() - start:.1f}s for all 16)")
    print("published averages: " + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
