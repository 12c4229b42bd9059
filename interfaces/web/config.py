"""The web door's configuration (config/web.yaml): where tokens live, which origins may call, which world."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import REPO_ROOT, Settings
from graphs.errors import ConfigError
from interfaces.web.runs import DoorWorld


class SnsIntake(BaseModel):
    """CloudWatch alarms through SNS: only signed messages from these topics are taken."""

    model_config = ConfigDict(extra="forbid")
    topics: list[str] = Field(default_factory=list)  # allowed TopicArn values; empty: the SNS door is off
    # Where SNS certificates and subscription confirmations may come from (AWS's own hosts, https only).
    certificate_url: str = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/SimpleNotificationService-[0-9a-f]+\.pem$"
    subscribe_url: str = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/\?Action=ConfirmSubscription&"
    max_age_s: float = 3600.0  # older messages are refused (replays)


class AlertIntake(BaseModel):
    """Alert webhooks: which environment an alert's run is about, and how many runs one service may have open."""

    model_config = ConfigDict(extra="forbid")
    default_environment: Literal["dev", "staging", "prod"] = "prod"
    environment_labels: list[str] = Field(default_factory=lambda: ["env", "environment", "stage"])
    service_labels: list[str] = Field(default_factory=lambda: ["service", "app", "job", "ServiceName", "ClusterName",
                                                                "DBInstanceIdentifier", "FunctionName", "InstanceId"])
    max_open_runs_per_service: int = Field(default=2, ge=1)
    sns: SnsIntake = Field(default_factory=SnsIntake)


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens_file: Path = Path("web-tokens.yaml")  # relative paths are inside the data directory
    allowed_origins: list[str] = Field(default_factory=list)
    world: DoorWorld = Field(default_factory=DoorWorld)
    max_text_chars: int = 4000
    keepalive_s: float = 15.0
    max_body_bytes: int = 65_536  # any /api request body (413 above)
    max_alert_bytes: int = 32_768  # an alert inside a run request (413 above)
    max_field_chars: int = 4_000  # any string inside an alert (400 above)
    max_alert_body_bytes: int = 262_144  # an alert webhook's body (SNS allows 256 KiB)
    max_slack_body_bytes: int = 262_144  # a Slack request body
    alerts: AlertIntake = Field(default_factory=lambda: AlertIntake())

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
