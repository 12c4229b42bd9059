"""Redaction against a corpus of planted secrets and text that must stay readable.

The corpus (tests/fixtures/secrets/corpus.yaml, 128 cases, English and Korean) holds
every shape a replayed incident leaked before: AWS session tokens, `AKIA…:secret`,
`aws configure set`, option and flag forms, every DB URL scheme, Korean labels,
PEM keys split across log lines, Kubernetes Secret data, Azure connection strings, ...
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import BaseModel

from tests.cli_helpers import REPO, cli
from tests.secrets_corpus import CASES, READABLE, SECRETS, leaked
from tools.redaction import MASK, Redactor, find_secrets, mask_blocks, redact, redact_lines, redact_value


def test_the_corpus_is_big_enough_and_bilingual():
    assert len(SECRETS) >= 100 and len({c["lang"] for c in CASES}) == 2
    assert sum(1 for c in CASES if c["lang"] == "ko") >= 15


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_no_planted_secret_survives_as_text_as_lines_or_as_a_stream(case):
    text = case["text"]
    lines = text.split("\n")
    as_text = redact(text)
    as_lines = "\n".join(redact_lines(lines))
    as_stream = "".join(Redactor().lines(line + "\n" for line in lines))
    for out in (as_text, as_lines, as_stream):
        assert not [s for s in case["secrets"] if s in out], out
        assert MASK in out
    assert find_secrets(text)


def test_each_line_of_a_multi_line_block_alone_still_leaks_which_is_why_lines_are_redacted_together():
    pem = next(c for c in CASES if c["kind"] == "pem-split-log-lines")
    one_by_one = "\n".join(redact(line) for line in pem["text"].split("\n"))
    assert [s for s in pem["secrets"] if s in one_by_one]  # the trap redact_lines exists for
    assert not [s for s in pem["secrets"] if s in "\n".join(redact_lines(pem["text"].split("\n")))]


def test_readable_text_stays_readable_alone_together_and_as_lines():
    for line in READABLE:
        assert redact(line) == line, line
    joined = "\n".join(READABLE)
    assert redact(joined) == joined
    assert redact_lines(READABLE) == READABLE


def test_the_text_around_a_secret_stays():
    out = redact("ERROR Pool exhausted: mysql://app:hunter2x@db1:3306/shop timeout after 30000ms")
    assert out == f"ERROR Pool exhausted: mysql://app:{MASK}@db1:3306/shop timeout after 30000ms"
    assert redact(f"DB_PASSWORD={MASK}") == f"DB_PASSWORD={MASK}"  # redaction is idempotent


class _Note(BaseModel):
    text: str
    env: dict[str, str]
    lines: list[str]


def test_structured_values_are_judged_with_their_keys_and_lines_together():
    pem = next(c for c in CASES if c["kind"] == "pem-split-log-lines")
    value = {"env": {"DB_PASSWORD": "plain-word", "LOG_LEVEL": "debug"}, "logs": pem["text"].split("\n"),
             "nested": [{"token": "abc123def456ghi"}], "note": _Note(text=CASES[0]["text"], env={"api_key": "k3y-v4lue-0001"},
                                                                   lines=pem["text"].split("\n"))}
    out = redact_value(value)
    dump = json.dumps({**out, "note": out["note"].model_dump()})
    assert not leaked(dump) and "plain-word" not in dump and "abc123def456ghi" not in dump and "k3y-v4lue-0001" not in dump
    assert out["env"]["LOG_LEVEL"] == "debug" and isinstance(out["note"], _Note)


def test_the_log_digest_masks_a_key_split_over_lines_while_streaming():
    pem = next(c for c in CASES if c["kind"] == "pem-split-log-lines")
    lines = pem["text"].split("\n")
    assert not [s for s in pem["secrets"] if s in "\n".join(mask_blocks(lines))]


def test_cloud_doctor_redact_prints_what_a_model_would_see(tmp_path):
    corpus = tmp_path / "corpus.log"
    corpus.write_text("\n\n".join(c["text"] for c in CASES) + "\n" + "\n".join(READABLE) + "\n", encoding="utf-8")
    from_file = cli("redact", str(corpus), data_dir=tmp_path / "data")
    assert from_file.returncode == 0, from_file.stderr
    assert not leaked(from_file.stdout) and "secret(s) masked" in from_file.stderr
    assert all(line in from_file.stdout for line in READABLE)
    from_stdin = subprocess.run([sys.executable, "-m", "interfaces.cli", "redact", "-"], cwd=REPO, input=corpus.read_text(),
                                capture_output=True, text=True, timeout=120, env={"CLOUD_DOCTOR_DATA_DIR": str(tmp_path / "d"),
                                                                                 "PATH": "/usr/bin:/bin"})
    assert from_stdin.returncode == 0 and from_stdin.stdout == from_file.stdout


@pytest.mark.parametrize("argument,message", [("missing.txt", "no such file"), (".", "is a folder")])
def test_cloud_doctor_redact_bad_input_is_one_line_and_exit_2(tmp_path, argument, message):
    result = cli("redact", str(tmp_path / argument) if argument != "." else str(tmp_path), data_dir=tmp_path / "data")
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
