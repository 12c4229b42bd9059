"""The web door's configuration (config/web.yaml): where tokens live, which origins may call, which world."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import REPO_ROOT, Settings
from graphs.errors import ConfigError
from interfaces.web.runs import DoorWorld


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens_file: Path = Path("web-tokens.yaml")  # relative paths are inside the data directory
    allowed_origins: list[str] = Field(default_factory=list)
    world: DoorWorld = Field(default_factory=DoorWorld)
    max_text_chars: int = 4000
    keepalive_s: float = 15.0

    def tokens_path(self, settings: Settings) -> Path:
        return self.tokens_file if self.tokens_file.is_absolute() else settings.data_dir / self.tokens_file


def resolve_scenario(world: DoorWorld) -> DoorWorld:
    """A recorded world's scenario path may be given relative to the repository."""
    if world.scenario is not None and not world.scenario.is_absolute() and not world.scenario.exists():
        return world.model_copy(update={"scenario": REPO_ROOT / world.scenario})
    return world


def load_yaml_config(path: Path, model: type[BaseModel], what: str) -> BaseModel:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return model.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"{what} config not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def load_web_config(settings: Settings, path: str | Path | None = None) -> WebConfig:
    """config/web.yaml, or the file named by CLOUD_DOCTOR_WEB_CONFIG."""
    path = Path(path or os.environ.get("CLOUD_DOCTOR_WEB_CONFIG") or settings.config_dir / "web.yaml")
    config = load_yaml_config(path, WebConfig, "web")
    assert isinstance(config, WebConfig)
    return config.model_copy(update={"world": resolve_scenario(config.world)})
