"""The repository registry (config/code_repositories.yaml): where a repository lives, how it is tested, where it is delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from config.settings import CONFIG_DIR

REGISTRY_FILE = "code_repositories.yaml"


class ForgeConfig(BaseModel):
    """Where pull requests are opened; the token comes from an environment variable, never from the file."""

    kind: Literal["github", "gitlab"]
    api_url: str
    project: str  # owner/name on GitHub, the project path on GitLab
    token_env: str


class RepositoryConfig(BaseModel):
    name: str
    path: Path
    default_branch: str = "main"
    test_command: list[str] | None = None
    test_timeout_s: int | None = None
    remote: str | None = None
    forge: ForgeConfig | None = None
    rollout: str | None = None  # a rollout strategy for after delivery (the delivery issue's progressive rollout)


class RepositoryRegistry(BaseModel):
    repositories: list[RepositoryConfig] = Field(default_factory=list)

    def for_path(self, path: Path) -> RepositoryConfig | None:
        resolved = Path(path).resolve()
        return next((r for r in self.repositories if Path(r.path).resolve() == resolved), None)

    def named(self, name: str) -> RepositoryConfig | None:
        return next((r for r in self.repositories if r.name == name), None)


def load_registry(config_dir: Path | None = None) -> RepositoryRegistry:
    path = Path(config_dir or CONFIG_DIR) / REGISTRY_FILE
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return RepositoryRegistry.model_validate(raw or {})
