"""Incident memory: resolved incidents in Chroma, found again by meaning.

On disk under the data directory by default (one operator, one machine); a
Chroma server when `CLOUD_DOCTOR_CHROMA_URL` is set (a fleet sharing what it
learned). Everything written is redacted first: records come back to the
diagnostician and from there may reach an LLM.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlparse

import yaml
from pydantic import ValidationError

from config.settings import Settings
from graphs.errors import ConfigError, NotFoundError, UserInputError
from memory.embeddings import MemoryUnavailable, MiniLMEmbeddingFunction, check_available, embed
from memory.records import ImportSummary, IncidentRecord, SimilarIncident
from tools.redact import redact_value

__all__ = [
    "IncidentStore", "MemoryUnavailable", "open_incident_store", "record_from_run", "record_from_scenario",
    "root_cause_categories", "check_root_cause",
]

COLLECTION = "incidents"
Progress = Callable[[int, int], None]  # (done, total)

_EXCERPT_CHARS = 240
_MAX_EVIDENCE = 4
_SIGNAL = re.compile(r"(?i)error|fail|fatal|panic|killed|oom|out of memory|denied|refused|timeout|timed out|exhaust|"
                     r"too many|no space|100%|lock|expired|unreachable|crash|warn")


# ------------------------------------------------------------------ taxonomy


@lru_cache(maxsize=8)
def _categories_in(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"taxonomy file not found: {path} (it lists the root-cause categories)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    categories = raw.get("categories") if isinstance(raw, dict) else None
    if not isinstance(categories, dict) or not categories:
        raise ConfigError(f"{path}: expected a `categories:` mapping of root causes")
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in categories.items()}


def root_cause_categories(settings: Settings) -> dict[str, dict[str, Any]]:
    """Root-cause category -> {fix, remedy}, from config/remedies.yaml (the taxonomy's keys)."""
    return _categories_in(Path(settings.config_dir) / "remedies.yaml")


def check_root_cause(root_cause: str, settings: Settings, *, where: str = "") -> None:
    """UserInputError naming the closest category when `root_cause` is not in the taxonomy."""
    categories = root_cause_categories(settings)
    if root_cause in categories:
        return
    close = difflib.get_close_matches(root_cause, list(categories), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    prefix = f"{where}: " if where else ""
    raise UserInputError(f"{prefix}unknown root cause {root_cause!r}: {hint}use a category from config/remedies.yaml "
                         f"({', '.join(categories)})")


# ------------------------------------------------------------------ the store


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)  # on by default in Chroma; never phone home


def _open_client(settings: Settings) -> tuple[Any, str]:
    import chromadb

    if settings.chroma_url:
        url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
        if not url.hostname:
            raise MemoryUnavailable(f"CLOUD_DOCTOR_CHROMA_URL={settings.chroma_url!r} is not a URL: use http://host:port")
        ssl = url.scheme == "https"
        port = url.port or (443 if ssl else 8000)
        where = f"{url.scheme}://{url.hostname}:{port}"
        try:
            return chromadb.HttpClient(host=url.hostname, port=port, ssl=ssl, settings=_chroma_settings()), where
        except Exception as exc:
            raise MemoryUnavailable(f"cannot reach the Chroma server at {where} ({_first_line(exc)}): "
                                    "start it or unset CLOUD_DOCTOR_CHROMA_URL to use the on-disk store") from None
    path = Path(settings.incidents_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings()), str(path)
    except Exception as exc:
        raise MemoryUnavailable(f"cannot open the incident store at {path} ({_first_line(exc)}): "
                                "check the data directory (CLOUD_DOCTOR_DATA_DIR) is writable") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class IncidentStore:
    """Resolved incidents, embedded with the bundled MiniLM and searched by cosine similarity."""

    def __init__(self, settings: Settings, *, client: Any = None):
        check_available()  # fail at open, not in the middle of a diagnosis
        self.settings = settings
        if client is None:
            client, self.location = _open_client(settings)
        else:
            self.location = "(given client)"
        self.client = client
        self.embedding = MiniLMEmbeddingFunction()
        try:
            self.collection = client.get_or_create_collection(
                COLLECTION, embedding_function=self.embedding, configuration={"hnsw": {"space": "cosine"}})
        except Exception as exc:
            raise MemoryUnavailable(f"cannot open the {COLLECTION!r} collection at {self.location} ({_first_line(exc)})") from None
        try:
            self.max_batch = int(client.get_max_batch_size())
        except Exception:
            self.max_batch = 1000

    # ---- writing

    def add(self, record: IncidentRecord) -> IncidentRecord:
        """Insert or replace (by id) one incident; returns the record as stored (redacted)."""
        return self.add_many([record])[0]

    def add_many(self, records: Sequence[IncidentRecord], *, batch: int = 256,
                 embeddings: Sequence[Sequence[float]] | Any | None = None,
                 on_progress: Progress | None = None) -> list[IncidentRecord]:
        """Upsert many incidents, embedding them in batches (or using `embeddings` already computed).

        Precomputed embeddings exist for bulk loads and benchmarks; they must come
        from the same model (`memory.embeddings.embed`) or searches mean nothing.
        """
        stored = [_redacted(r) for r in records]
        if embeddings is not None and len(embeddings) != len(stored):
            raise ValueError(f"{len(embeddings)} embeddings for {len(stored)} records")
        step = max(1, min(batch, self.max_batch))
        done = 0
        for start in range(0, len(stored), step):
            chunk = stored[start:start + step]
            vectors = embeddings[start:start + step] if embeddings is not None else embed([r.embedding_text() for r in chunk])
            self.collection.upsert(
                ids=[r.id for r in chunk],
                embeddings=vectors,
                documents=[r.embedding_text() for r in chunk],
                metadatas=[_metadata(r) for r in chunk],
            )
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, len(stored))
        return stored

    def remember_run(self, state: Any, *, thread_id: str | None = None) -> IncidentRecord | None:
        """Write a finished, approved run back as an incident; None when the run does not qualify."""
        record = record_from_run(state, thread_id=thread_id)
        return self.add(record) if record is not None else None

    # ---- reading

    def count(self) -> int:
        return int(self.collection.count())

    def search(self, text: str, k: int = 3, *, where: Mapping[str, Any] | None = None) -> list[SimilarIncident]:
        """The k stored incidents most similar to `text`, best first."""
        if k <= 0 or not text.strip() or self.count() == 0:
            return []
        return self.search_vector(embed([text])[0], k, where=where)

    def search_vector(self, vector: Sequence[float] | Any, k: int = 3, *,
                      where: Mapping[str, Any] | None = None) -> list[SimilarIncident]:
        """Search with a query embedding already computed (benchmarks time the two halves apart)."""
        result = self.collection.query(query_embeddings=[vector], n_results=k, where=dict(where) if where else None,
                                       include=["metadatas", "distances"])
        hits: list[SimilarIncident] = []
        for id_, meta, distance in zip(result["ids"][0], result["metadatas"][0], result["distances"][0]):
            hits.append(_similar(id_, meta or {}, float(distance)))
        return hits

    def get(self, incident_id: str) -> IncidentRecord:
        result = self.collection.get(ids=[incident_id], include=["metadatas"])
        if not result["ids"]:
            raise NotFoundError(f"no incident {incident_id!r} in {self.location}")
        return _record(result["ids"][0], result["metadatas"][0] or {})

    def stats(self) -> dict[str, Any]:
        """Count, incidents per root cause and per source (reads metadata only, in pages)."""
        total = self.count()
        per_cause: dict[str, int] = {}
        per_source: dict[str, int] = {}
        page = 5000
        for offset in range(0, total, page):
            result = self.collection.get(include=["metadatas"], limit=page, offset=offset)
            for meta in result["metadatas"] or []:
                meta = meta or {}
                cause = str(meta.get("root_cause", "unknown"))
                source = str(meta.get("source", "manual"))
                per_cause[cause] = per_cause.get(cause, 0) + 1
                per_source[source] = per_source.get(source, 0) + 1
        return {
            "count": total,
            "root_causes": dict(sorted(per_cause.items(), key=lambda kv: (-kv[1], kv[0]))),
            "sources": dict(sorted(per_source.items(), key=lambda kv: (-kv[1], kv[0]))),
            "store": self.location,
        }

    # ---- importing

    def import_file(self, path: str | Path, *, on_progress: Progress | None = None) -> ImportSummary:
        """Import JSONL of IncidentRecord, or labelled incident scenarios (a .yaml file or a folder)."""
        records, summary = read_incidents(path, self.settings)
        self.add_many(records, on_progress=on_progress)
        summary.added = len(records)
        return summary


def open_incident_store(settings: Settings) -> IncidentStore:
    return IncidentStore(settings)


# ------------------------------------------------------------- (de)serialising


def _redacted(record: IncidentRecord) -> IncidentRecord:
    return redact_value(record)


def _metadata(record: IncidentRecord) -> dict[str, Any]:
    # Chroma metadata holds scalars only: lists travel as JSON text.
    return {
        "title": record.title, "summary": record.summary, "root_cause": record.root_cause,
        "evidence": json.dumps(record.evidence, ensure_ascii=False), "fix": record.fix, "fix_kind": record.fix_kind,
        "outcome": record.outcome, "environment": record.environment or "", "created_at": record.created_at.isoformat(),
        "source": record.source,
    }


def _evidence(meta: Mapping[str, Any]) -> list[str]:
    try:
        value = json.loads(str(meta.get("evidence") or "[]"))
    except json.JSONDecodeError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _similar(id_: str, meta: Mapping[str, Any], distance: float) -> SimilarIncident:
    score = min(1.0, max(0.0, 1.0 - distance))  # cosine distance 0..2 -> similarity, negatives as 0
    return SimilarIncident(
        id=id_, title=str(meta.get("title", "")), summary=str(meta.get("summary", "")),
        root_cause=str(meta.get("root_cause", "unknown")), fix=str(meta.get("fix", "")),
        outcome=str(meta.get("outcome", "")), score=round(score, 4), fix_kind=meta.get("fix_kind") or "none",
        evidence=_evidence(meta), environment=meta.get("environment") or None,
    )


def _record(id_: str, meta: Mapping[str, Any]) -> IncidentRecord:
    return IncidentRecord(
        id=id_, title=str(meta.get("title") or id_), summary=str(meta.get("summary", "")),
        root_cause=str(meta.get("root_cause") or "unknown"), evidence=_evidence(meta), fix=str(meta.get("fix", "")),
        fix_kind=meta.get("fix_kind") or "none", outcome=str(meta.get("outcome", "")),
        environment=meta.get("environment") or None, source=meta.get("source") or "manual",
        **({"created_at": meta["created_at"]} if meta.get("created_at") else {}),
    )


# -------------------------------------------------------------------- reading files


def read_incidents(path: str | Path, settings: Settings) -> tuple[list[IncidentRecord], ImportSummary]:
    """Records from a JSONL file or from labelled scenarios; every problem is one UserInputError line."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"no such file or folder: {path}")
    summary = ImportSummary(path=str(path))
    if path.is_file() and path.suffix in (".jsonl", ".json", ".ndjson"):
        return _read_jsonl(path, settings), summary
    if path.is_dir() or path.suffix in (".yaml", ".yml"):
        return _read_scenarios(path, settings, summary), summary
    raise UserInputError(f"{path}: expected a .jsonl file of incidents or a scenario .yaml file or folder")


def parse_incident(raw: Any, settings: Settings, *, where: str, default_source: str = "import") -> IncidentRecord:
    """One incident object (already JSON-decoded) -> a validated record with a taxonomy root cause."""
    if not isinstance(raw, dict):
        raise UserInputError(f"{where}: an incident must be a JSON object with title and root_cause")
    raw = {"source": default_source, **raw}
    try:
        record = IncidentRecord.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(record)"
        raise UserInputError(f"{where}: {field}: {first['msg']}") from None
    check_root_cause(record.root_cause, settings, where=where)
    return record


def _read_jsonl(path: Path, settings: Settings) -> list[IncidentRecord]:
    records: list[IncidentRecord] = []
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserInputError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno}); "
                                 "expected one incident object per line") from None
        if isinstance(raw, list):  # a whole JSON array on one line is a forgivable shape
            records += [parse_incident(item, settings, where=f"{path}:{number}") for item in raw]
        else:
            records.append(parse_incident(raw, settings, where=f"{path}:{number}"))
    return records


def _read_scenarios(path: Path, settings: Settings, summary: ImportSummary) -> list[IncidentRecord]:
    from evals.scenario import find_scenarios, load_scenario

    records: list[IncidentRecord] = []
    for file in find_scenarios(path):
        scenario = load_scenario(file)
        record = record_from_scenario(scenario, settings)
        if record is None:
            summary.skipped += 1
            summary.skipped_why.append(f"{scenario.id}: not an incident with expected.root_cause")
        else:
            records.append(record)
    return records


# ----------------------------------------------------------- records from scenarios


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _excerpt(text: str, *, signal_only: bool = False) -> str:
    """The lines that say what happened: signal lines first, else the top of the output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    signal = [line for line in lines if _SIGNAL.search(line)]
    chosen = signal[:3] if signal else ([] if signal_only else lines[:3])
    out = _squeeze(" | ".join(chosen))
    return out[: _EXCERPT_CHARS - 1] + "…" if len(out) > _EXCERPT_CHARS else out


def _scenario_evidence(scenario: Any) -> list[str]:
    """Excerpts of the recorded outputs the scenario says a diagnosis must cite (else the loudest ones)."""
    world = scenario.world
    wanted = list(scenario.expected.evidence or []) if scenario.expected else []
    items: list[tuple[str, str, str]] = []  # (source, command or "", text)
    for host, commands in world.hosts.items():
        for command, output in commands.items():
            items.append((f"{host}: {command}", command, output.stdout or output.stderr))
    for source, lines in world.logs.items():
        items.append((source, "", "\n".join(lines)))
    if world.infra.terraform_output:
        items.append(("terraform", "", world.infra.terraform_output))

    def matches(source: str, command: str, prefix: str) -> bool:
        # The eval's rule for citations: a command starting with the prefix, or a source starting with it.
        return (bool(command) and command.startswith(prefix)) or source.startswith(prefix)

    evidence: list[str] = []
    if wanted:
        for source, command, text in items:
            if any(matches(source, command, prefix) for prefix in wanted) and (excerpt := _excerpt(text)):
                evidence.append(f"{source}: {excerpt}")
    if not evidence:
        for source, _, text in items:
            if excerpt := _excerpt(text, signal_only=True):
                evidence.append(f"{source}: {excerpt}")
    return evidence[:_MAX_EVIDENCE]


def record_from_scenario(scenario: Any, settings: Settings) -> IncidentRecord | None:
    """A labelled incident scenario as a past incident; None for requests and unlabelled ones.

    The id is the scenario id, so leave-one-out evaluation can exclude a
    scenario's own record (interfaces/memory_eval.py).
    """
    expected = scenario.expected
    if scenario.kind != "incident" or expected is None or not expected.root_cause:
        return None
    root_cause = expected.root_cause[0]
    check_root_cause(root_cause, settings, where=f"{scenario.path or scenario.id}: expected.root_cause")
    category = root_cause_categories(settings).get(root_cause, {})
    alert = scenario.input.alert
    said = []
    if alert is not None:
        said.append(f"{alert.name}: {alert.summary}" if alert.summary else alert.name)
    if scenario.input.text:
        said.append(scenario.input.text)
    when = scenario.at or (alert.started_at if alert is not None else None)
    return IncidentRecord(
        id=scenario.id, title=scenario.title, summary=" — ".join(said), root_cause=root_cause,
        evidence=_scenario_evidence(scenario), fix=str(category.get("remedy", "")),
        fix_kind=expected.fix or category.get("fix") or "none",
        outcome="resolved (labelled replay scenario)", environment=scenario.environment,
        source="replay", **({"created_at": when} if when is not None else {}),
    )


# ---------------------------------------------------------------- records from runs


def _field(state: Any, name: str) -> Any:
    return state.get(name) if isinstance(state, Mapping) else getattr(state, name, None)


def _run_finished(state: Any) -> bool:
    approval = _field(state, "approval_status") or "none"
    if approval not in ("approved", "not_required"):
        return False  # pending, rejected, blocked, or nothing was ever applied
    report = _field(state, "report")
    status = getattr(report, "status", None) or _field(state, "status")
    if status is not None and status != "completed":
        return False
    pending = _field(state, "pending_approval")
    return pending is None


def record_from_run(state: Any, *, thread_id: str | None = None) -> IncidentRecord | None:
    """The incident a finished, approved run teaches; None when there is nothing to learn.

    Accepts the graph state (graphs.state.OpsState) or a RunOutcome. Only a run
    with a diagnosis (not `unknown`) whose fix was approved (or needed no
    approval) and that completed is written back: memory holds resolutions,
    not guesses.
    """
    diagnosis = _field(state, "diagnosis")
    if diagnosis is None or diagnosis.root_cause == "unknown" or not _run_finished(state):
        return None
    request = _field(state, "request")
    alert = getattr(request, "alert", None)
    text = getattr(request, "text", None) or ""
    host = (alert.labels.get("host") or alert.labels.get("service")) if alert is not None else None
    if alert is not None:
        title = alert.name + (f" on {host}" if host else "")
    else:
        title = _squeeze(text)[:80] or diagnosis.summary[:80]
    said = [f"{alert.name}: {alert.summary}" if alert is not None and alert.summary else (alert.name if alert else ""), text,
            diagnosis.summary]
    summary = " — ".join(_squeeze(s) for s in said if s and s.strip())

    cited = set(diagnosis.citations)
    evidence = [f"{e.source}: {_squeeze(e.summary)}" for e in (_field(state, "evidence") or []) if e.id in cited]

    proposals = _field(state, "proposals") or []
    actions = _field(state, "actions") or []
    done = [a for a in actions if a.status in ("executed", "rolled_back") and a.verdict == "approve"]
    fix_parts = [p.title for p in proposals] or [a.action for a in done]
    fix = "; ".join(fix_parts) or "; ".join(diagnosis.suggested_commands)
    fix_kind = proposals[0].kind if proposals else diagnosis.fix_kind
    fix_kind = "command" if fix_kind == "unlock" else fix_kind

    decisions = [d for d in (_field(state, "decisions") or []) if d.approved]
    approved_by = ", ".join(f"{d.user.name} ({d.role})" for d in decisions)
    if any(a.status == "rolled_back" for a in actions):
        outcome = "rolled back"
    elif _field(state, "deployed"):
        outcome = "fixed: deployed"
    elif done:
        outcome = "fixed: " + "; ".join(f"ran {a.action}" for a in done)
    else:
        outcome = "resolved"
    if approved_by:
        outcome += f" (approved by {approved_by})"

    when = request.effective_time() if request is not None else None
    basis = "\x1f".join((title, summary, diagnosis.root_cause, when.isoformat() if when else ""))
    ident = f"run-{thread_id}" if thread_id else f"run-{hashlib.sha1(basis.encode()).hexdigest()[:10]}"
    return IncidentRecord(
        id=ident, title=title, summary=summary, root_cause=diagnosis.root_cause, evidence=evidence[:_MAX_EVIDENCE],
        fix=fix, fix_kind=fix_kind, outcome=outcome, environment=getattr(request, "environment", None), source="run",
        **({"created_at": when} if when is not None else {}),
    )
