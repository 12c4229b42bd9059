"""Recorded model sessions: store every model exchange of a run, answer later runs from the store.

`--record-llm DIR` writes one JSON line per exchange to DIR/runs/<run>.jsonl
and the models config used to DIR/models.yaml; `--replay-llm DIR` answers
from those files, without network. An exchange is keyed by a hash of the
redacted request (role, provider, model, messages, tool schemas, tool
choice); provider call ids are left out because some providers make them
up at random. A changed prompt, evidence list or tool catalogue is therefore
a clear miss — "no recorded answer for this request" — never a wrong answer.
Only the key, a digest per message and the answer are stored: not the
prompt, so a recording holds no more than the report already shows.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any

import yaml
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from graphs.errors import ProviderError
from tools.redact import redact

STOP_KEYS = ("stopReason", "finish_reason", "done_reason")
SCRUBBED_PROVIDER_KEYS = ("endpoint_url", "endpoint", "base_url", "api_key_env", "credentials")


def content_text(content: Any) -> str:
    """Message content as text: text blocks joined, cache points and other markers left out."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and "text" in block and "cachePoint" not in block:
            parts.append(str(block["text"]))
    return "".join(parts)


def canonical_request(role: str, provider: str, model: str, messages: list[BaseMessage], tools: list[dict[str, Any]],
                      tool_choice: str | None) -> dict[str, Any]:
    rows = []
    for message in messages:
        row: dict[str, Any] = {"type": message.type, "content": content_text(message.content)}
        if isinstance(message, AIMessage) and message.tool_calls:
            row["tool_calls"] = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
        if isinstance(message, ToolMessage):
            row["name"] = message.name
        rows.append(row)
    schemas = [t["function"] for t in tools if isinstance(t, dict) and "function" in t]
    return {"role": role, "provider": provider, "model": model, "messages": rows, "tools": schemas, "tool_choice": tool_choice}


def _canonical_text(value: Any) -> str:
    return redact(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


def request_key(request: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical_text(request).encode("utf-8")).hexdigest()


def request_digest(request: dict[str, Any]) -> list[str]:
    """One short line per message (and one for the tools): enough to say where a changed request differs."""
    lines = [f"{i + 1} {m['type']} {len(m['content'])} chars {hashlib.sha256(_canonical_text(m).encode()).hexdigest()[:12]}"
             for i, m in enumerate(request["messages"])]
    lines.append(f"tools {','.join(t.get('name', '?') for t in request['tools'])} "
                 f"{hashlib.sha256(_canonical_text(request['tools']).encode()).hexdigest()[:12]}")
    return lines


def message_to_record(message: Any) -> dict[str, Any]:
    meta = getattr(message, "response_metadata", None) or {}
    return {
        "content": message.content if isinstance(message.content, str) else content_text(message.content),
        "tool_calls": [{"name": c["name"], "args": c["args"], "id": c.get("id") or f"call_{i}"} for i, c in enumerate(message.tool_calls or [])],
        "usage_metadata": dict(message.usage_metadata or {}) if getattr(message, "usage_metadata", None) else None,
        "response_metadata": {k: meta[k] for k in STOP_KEYS if k in meta},
    }


def message_from_record(record: dict[str, Any]) -> AIMessage:
    return AIMessage(content=record.get("content") or "", tool_calls=record.get("tool_calls") or [],
                     usage_metadata=record.get("usage_metadata"), response_metadata=record.get("response_metadata") or {})


def safe_name(run: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run).strip("._") or "run"


class SessionStore:
    """One directory of recorded exchanges, opened to record or to replay."""

    def __init__(self, directory: Path, mode: str):
        if mode not in ("record", "replay"):
            raise ValueError(mode)
        self.directory = Path(directory)
        self.mode = mode
        self._lock = threading.Lock()
        self._started: set[str] = set()
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self._digests: dict[str, list[tuple[str, list[str]]]] = {}
        self.hits = 0
        self.misses: list[str] = []
        if mode == "replay":
            self._load()

    @property
    def replaying(self) -> bool:
        return self.mode == "replay"

    # ---------------------------------------------------------------- record

    def save_config(self, config: dict[str, Any]) -> None:
        """The models config the recording was made with (endpoints and key names left out)."""
        clean = json.loads(json.dumps(config, default=str))
        for settings in (clean.get("providers") or {}).values():
            for key in SCRUBBED_PROVIDER_KEYS:
                (settings or {}).pop(key, None)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "models.yaml").write_text(
            "# The models config these sessions were recorded with (replay answers from runs/, no network).\n"
            + yaml.safe_dump(clean, sort_keys=False, allow_unicode=True), encoding="utf-8")

    def record(self, run: str, occurrence: int, request: dict[str, Any], answer: Any) -> None:
        row = {"key": request_key(request), "n": occurrence, "role": request["role"], "digest": request_digest(request),
               "answer": message_to_record(answer)}
        path = self.directory / "runs" / f"{safe_name(run)}.jsonl"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = "a" if run in self._started else "w"  # a new recording of a run replaces the old one
            self._started.add(run)
            with path.open(mode, encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")

    # ---------------------------------------------------------------- replay

    def _load(self) -> None:
        folder = self.directory / "runs"
        if not folder.is_dir():
            raise ProviderError(f"no recorded model sessions in {self.directory} (expected {folder}/*.jsonl)")
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                answers = self._answers.setdefault(row["key"], [])
                if row.get("n", 0) >= len(answers):
                    answers.append(row["answer"])
                self._digests.setdefault(path.stem, []).append((row["role"], row.get("digest") or []))

    def answer(self, run: str, occurrence: int, request: dict[str, Any]) -> AIMessage:
        key = request_key(request)
        answers = self._answers.get(key)
        if not answers:
            why = self._miss_detail(run, request)
            self.misses.append(f"{run}: {request['role']} {key[:12]}")
            raise ProviderError(f"replayed session has no recorded answer for this {request['role']} request (key {key[:12]}; {why}): "
                                "the prompt, evidence or tools changed since the recording; record again with --record-llm")
        self.hits += 1
        return message_from_record(answers[min(occurrence, len(answers) - 1)])

    def _miss_detail(self, run: str, request: dict[str, Any]) -> str:
        recorded = [d for role, d in self._digests.get(safe_name(run), []) if role == request["role"]]
        if not recorded:
            return f"run {run!r} has no recorded {request['role']} exchange"
        wanted = request_digest(request)
        best = max(recorded, key=lambda d: sum(a == b for a, b in zip(d, wanted)))
        for i, (a, b) in enumerate(zip(best, wanted)):
            if a != b:
                return f"nearest recording differs first at {'the tools' if b.startswith('tools') else 'message ' + str(i + 1)}"
        return "nearest recording has a different number of messages"
