"""Typed settings: environment variables `CLOUD_DOCTOR_*` over sane defaults.

Every path the product reads or writes is decided here, so an operator can
move the data directory or point at other policy files without code changes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONFIG_DIR.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUD_DOCTOR_", extra="ignore")

    data_dir: Path = Field(default=Path(".cloud-doctor"), description="checkpoints, audit log, incident store")
    config_dir: Path = CONFIG_DIR
    prompts_dir: Path = REPO_ROOT / "prompts"
    checkpoint_url: str | None = Field(default=None, description="postgresql://... for fleets; SQLite file otherwise")
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server; on-disk otherwise")
    models_file: Path | None = None
    policy_file: Path | None = None
    commands_file: Path | None = None
    inventory_file: Path | None = None
    # The live world's Terraform root: set it explicitly (CLOUD_DOCTOR_TERRAFORM_DIR). There is no default:
    # the repository's own terraform/ is a reference project, never a live world's infrastructure.
    terraform_dir: Path | None = None
    terraform_bin: str = "terraform"
    # A local checkout of the service's code (CLOUD_DOCTOR_CODE_REPO): the code healer reads it, proves a patch by its
    # own tests in a scratch worktree and delivers it as a branch; without it, code fixes stay drafts.
    code_repo: Path | None = None
    nginx_bin: str | None = Field(default=None, description="nginx for the rollout demo's stage; found on PATH or in /usr/sbin otherwise")
    known_hosts: Path | None = None
    memory_enabled: bool = True
    log_token_budget: int = 2000
    aws_reads: Literal["cli", "api"] = "cli"  # aws.* reads: the aws CLI on the control host, or boto3 from here
    verify_time_scale: float = 1.0  # multiplies the waits of verification reads (tests and demos use small values)
    # Doors and workers (interfaces/queue, interfaces/worker.py). One PostgreSQL URL shares everything between
    # replicas and workers: checkpoints, runs, events, dedupe keys, approvals, audit and the work queue.
    database_url: str | None = Field(default=None, description="postgresql://... shared by every replica and worker; "
                                     "replaces checkpoint_url (either works); SQLite files in data_dir otherwise")
    workers: int = Field(default=2, ge=0, le=64, description="worker processes `serve` starts (0: run `cloud-doctor worker` elsewhere)")
    worker_concurrency: int = Field(default=4, ge=1, le=64, description="runs one worker process works on at once")
    job_lease_s: float = Field(default=30.0, gt=0, description="a job whose worker stops renewing it for this long is taken over")
    job_max_attempts: int = Field(default=3, ge=1, description="a job that killed its worker this often is marked failed")
    slack_progress_interval_s: float = Field(default=3.0, ge=0, description="at most one progress edit per thread this often")
    alertmanager_token: str | None = Field(default=None, description="bearer token Alertmanager sends to /api/alerts/alertmanager")
    # Model sessions (agents/llm_sessions.py): record every model exchange of a run, or answer from a recording.
    record_llm: Path | None = Field(default=None, description="directory to record model exchanges into")
    replay_llm: Path | None = Field(default=None, description="directory of recorded model exchanges to answer from")
    # Cost forecasts (tools/cost_explorer.py): ask AWS Cost Explorer (ce:GetCostForecast) beside the spec's own forecast.
    cost_explorer: bool = Field(default=False, description="also read AWS Cost Explorer's forecast (it bills $0.01 per request)")
    cost_explorer_url: str | None = Field(default=None, description="endpoint of Cost Explorer (a proxy, or a local fake in tests)")
    schedule_poll_s: float = Field(default=15.0, gt=0, description="how often a worker looks for due schedules and stage gates")
    door_retention_days: int = Field(default=30, ge=1, le=3650, description="finished jobs, dedupe keys, resolved alert groups "
                                     "and the events of ended runs older than this are pruned by workers (the audit trail never)")

    def path(self, name: str) -> Path:
        """A config file by name, honouring an explicit override."""
        override = {
            "models.yaml": self.models_file,
            "policy.yaml": self.policy_file,
            "commands.yaml": self.commands_file,
            "inventory.yaml": self.inventory_file,
        }.get(name)
        return Path(override) if override else self.config_dir / name

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit.jsonl"

    @property
    def checkpoint_file(self) -> Path:
        return self.data_dir / "checkpoints.sqlite"

    @property
    def shared_database_url(self) -> str | None:
        """The PostgreSQL URL every replica and worker shares, or None for the embedded SQLite files."""
        for url in (self.database_url, self.checkpoint_url):
            if url and url.startswith(("postgres://", "postgresql://")):
                return url
        return None

    @property
    def incidents_dir(self) -> Path:
        return self.data_dir / "incidents"

    def require_terraform_dir(self) -> Path:
        """The configured Terraform root, or a one-line error that says how to configure it."""
        if self.terraform_dir is None:
            from graphs.errors import ConfigError

            raise ConfigError("no Terraform directory is configured for the live world: "
                              "set CLOUD_DOCTOR_TERRAFORM_DIR to your Terraform root")
        return Path(self.terraform_dir)

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change env vars between cases)."""
    get_settings.cache_clear()
