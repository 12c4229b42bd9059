"""The records incident memory keeps and returns.

An `IncidentRecord` is one resolved incident as a person would retell it:
what was seen, what it was, what fixed it and how that went. A
`SimilarIncident` is what a search hands the diagnostician: the same story,
shortened, with a similarity score.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphs.state import Environment, FixKind, utc_now

IncidentSource = Literal["replay", "run", "import", "manual"]


class IncidentRecord(BaseModel):
    """One resolved incident; `id` is the upsert key (stable ids make re-imports idempotent)."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    title: str = Field(min_length=1)
    summary: str = ""
    root_cause: str = Field(min_length=1)  # a taxonomy category (config/remedies.yaml)
    evidence: list[str] = Field(default_factory=list)
    fix: str = ""
    fix_kind: FixKind = "none"
    outcome: str = ""
    environment: Environment | None = None
    created_at: datetime = Field(default_factory=utc_now)
    source: IncidentSource = "manual"

    @model_validator(mode="after")
    def _content_id(self) -> "IncidentRecord":
        # Without an explicit id, the same incident added twice must land on one entry.
        if not self.id:
            digest = hashlib.sha1("\x1f".join((self.title, self.summary, self.root_cause)).encode()).hexdigest()
            self.id = f"INC-{digest[:10]}"
        return self

    def embedding_text(self) -> str:
        """What similarity is computed over. MiniLM reads 256 word pieces: most telling first."""
        parts = [self.title, self.summary, f"root cause: {self.root_cause.replace('_', ' ')}", *self.evidence]
        return "\n".join(p.strip() for p in parts if p and p.strip())


class SimilarIncident(BaseModel):
    """A past incident returned by a search; `score` is cosine similarity clipped to 0..1."""

    id: str
    title: str
    summary: str = ""
    root_cause: str
    fix: str = ""
    outcome: str = ""
    score: float = Field(ge=0.0, le=1.0)
    fix_kind: FixKind = "none"
    evidence: list[str] = Field(default_factory=list)
    environment: str | None = None


class ImportSummary(BaseModel):
    """What an import did, for the CLI line and for tests."""

    path: str
    added: int = 0
    skipped: int = 0
    skipped_why: list[str] = Field(default_factory=list)
