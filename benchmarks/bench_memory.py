"""Incident memory: model load, embedding throughput, retrieval latency at 10,000 and 100,000 incidents.

Embedding 100,000 texts with MiniLM on two cores takes about nine minutes, so
only a few thousand generated incidents are embedded for real; the rest of the
store is those vectors with small seeded perturbations (renormalised). Queries
are real: fresh texts embedded by the model, then searched in a real on-disk
Chroma store through `IncidentStore`. Run: `.venv/bin/python -m benchmarks.bench_memory`.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REAL_TEXTS = 1500
SIZES = (10_000, 100_000)
QUERIES = 100
K = 3
NOISE = 0.015  # per-dimension sigma on unit vectors: cosine to the source vector stays around 0.95
SEED = 7

HOSTS = [f"{kind}{n}" for kind in ("web", "api", "db", "worker", "cache", "batch") for n in range(1, 9)]
SERVICES = ["checkout", "orders", "search", "payments", "auth", "images", "reports", "gateway", "inventory", "mailer"]

# root cause -> (title templates, symptom templates); {h} host, {s} service, {n} a number
TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "memory_leak": (["{s} worker memory grows until the OOM killer fires on {h}", "{s} heap keeps growing after deploy on {h}"],
                    ["RSS of node {s} at {n}% of memory; dmesg: Out of memory: Killed process", "heap used {n}MB and rising, GC cannot reclaim"]),
    "disk_full": (["root volume full on {h}", "{s} logs filled /var on {h}"],
                  ["df -h shows / at 100%: No space left on device", "write failed: ENOSPC, {n}G of logs in /var/log/{s}"]),
    "cpu_saturation": (["{s} pegged CPU on {h}", "load average {n} on {h}"],
                       ["top: {s} at 390% CPU, run queue {n}", "requests time out while CPU steal is low and user time is {n}%"]),
    "db_connection_exhaustion": (["{s} cannot get a database connection", "too many connections on {h}"],
                                 ["ERROR 1040: Too many connections ({n} of {n})", "pool exhausted: timeout acquiring connection after {n}ms"]),
    "connection_leak": (["{s} leaks database connections", "idle-in-transaction sessions pile up from {s}"],
                        ["pg_stat_activity: {n} idle connections from {s}", "connections never returned to the pool on error path"]),
    "dns_failure": (["{s} cannot resolve internal names", "DNS lookups time out on {h}"],
                    ["getaddrinfo ENOTFOUND {s}.internal", "resolv.conf points at a dead resolver, dig times out after {n}s"]),
    "certificate_expired": (["TLS certificate expired for {s}", "clients reject {s} certificate"],
                            ["SSL certificate problem: certificate has expired", "notAfter passed {n} hours ago on {h}"]),
    "terraform_state_lock": (["terraform plan blocked by a state lock", "apply fails: lock held by a CI runner"],
                             ["Error acquiring the state lock, Who: runner@ci-{n}", "ConditionalCheckFailedException on the lock table"]),
    "bad_deploy": (["errors spike after {s} release {n}", "{s} 5xx after deploy"],
                   ["error rate {n}% since version {n}.2 rolled out", "new release throws TypeError on startup"]),
    "permission_denied": (["{s} gets AccessDenied from S3", "IAM role of {s} lacks a permission"],
                          ["AccessDenied: not authorized to perform s3:PutObject", "403 from the API for role {s}-{n}"]),
}


def _incident(rng: random.Random) -> tuple[str, str, str]:
    cause = rng.choice(list(TEMPLATES))
    titles, symptoms = TEMPLATES[cause]
    fill = {"h": rng.choice(HOSTS), "s": rng.choice(SERVICES), "n": rng.randint(2, 99)}
    return cause, rng.choice(titles).format(**fill), rng.choice(symptoms).format(**fill)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _fmt(values: list[float]) -> str:
    return f"{_pct(values, 0.5) * 1000:7.1f} / {_pct(values, 0.95) * 1000:7.1f}"


def main() -> None:
    from config.settings import Settings
    from memory import embeddings
    from memory.incidents import open_incident_store
    from memory.records import IncidentRecord

    rng = random.Random(SEED)
    started = time.perf_counter()
    embeddings.load_model()
    load_s = time.perf_counter() - started

    base = [_incident(rng) for _ in range(REAL_TEXTS)]
    base_records = [IncidentRecord(id=f"B{i}", title=t, summary=s, root_cause=c, source="import") for i, (c, t, s) in enumerate(base)]
    started = time.perf_counter()
    base_vectors = embeddings.embed([r.embedding_text() for r in base_records])
    embed_s = time.perf_counter() - started

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other processes share them)")
    print(f"model load: {load_s:.1f} s (torch import and weights; once per process)")
    print(f"embedding throughput: {REAL_TEXTS / embed_s:.0f} incident texts/s ({REAL_TEXTS} texts in {embed_s:.1f} s, batch 64, CPU)")
    print(f"stored vectors: {REAL_TEXTS} embedded for real; the rest are those vectors plus seeded Gaussian noise "
          f"(sigma {NOISE}/dim, renormalised) — retrieval cost is measured, retrieval quality is not")

    noise_rng = np.random.default_rng(SEED)
    queries = [_incident(rng) for _ in range(QUERIES)]
    query_texts = [f"{t}: {s}" for _, t, s in queries]

    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        store = open_incident_store(Settings(data_dir=Path(tmp), chroma_url=None))
        stored = 0
        for size in SIZES:
            ids = range(stored, size)
            records = [base_records[i % REAL_TEXTS].model_copy(update={"id": f"I{i}"}) for i in ids]
            vectors = base_vectors[[i % REAL_TEXTS for i in ids]]
            vectors = vectors + noise_rng.normal(0.0, NOISE, vectors.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            t0 = time.perf_counter()
            store.add_many(records, batch=5000, embeddings=vectors)
            insert_s = time.perf_counter() - t0
            stored = size

            for text in query_texts[:10]:  # warm-up: the first queries load the index and settle the writer
                store.search_vector(embeddings.embed([text])[0], K)
            embed_times: list[float] = []
            search_times: list[float] = []
            for text in query_texts:
                t0 = time.perf_counter()
                vector = embeddings.embed([text])[0]
                t1 = time.perf_counter()
                hits = store.search_vector(vector, K)
                t2 = time.perf_counter()
                assert len(hits) == K
                embed_times.append(t1 - t0)
                search_times.append(t2 - t1)
            totals = [a + b for a, b in zip(embed_times, search_times)]
            rows.append((f"{size:,}", f"{len(records) / insert_s:,.0f}/s", _fmt(embed_times), _fmt(search_times), _fmt(totals)))

    print(f"\nretrieval latency, k={K}, {QUERIES} real queries each, on-disk Chroma (HNSW, cosine), ms p50 / p95:")
    header = ("stored", "insert rate", "query embed", "index search", "total")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))
    print(f"(median query embedding is the same model call at every size: "
          f"{statistics.median(embed_times) * 1000:.1f} ms for one text)")


if __name__ == "__main__":
    main()
