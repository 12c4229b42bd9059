"""config/models.yaml as typed settings, with the environment's overrides applied and checked.

Roles, not vendors: each role names a provider and a model. Overrides for
one run come from the environment (`CLOUD_DOCTOR_<ROLE>_PROVIDER`,
`CLOUD_DOCTOR_<ROLE>_MODEL`, `CLOUD_DOCTOR_VERTEX_PROJECT`, ...). A model id
that belongs to another provider is refused here, in one line, instead of
failing every call of the run later.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.errors import ConfigError

ProviderName = Literal["bedrock", "vertex", "openai", "ollama", "none"]
PROVIDERS: tuple[str, ...] = ("bedrock", "vertex", "openai", "ollama", "none")
PROVIDER_TITLES = {"bedrock": "Bedrock", "vertex": "Vertex AI", "openai": "OpenAI-compatible", "ollama": "Ollama"}
EXAMPLE_MODELS = {
    "bedrock": "anthropic.claude-sonnet-4-20250514-v1:0",
    "vertex": "gemini-2.5-flash",
    "openai": "gpt-4.1-mini (or the name your server serves)",
    "ollama": "qwen2.5:14b",
}


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: ProviderName = "none"
    model: str = ""
    fallback: str | None = None
    max_output_tokens: int = Field(default=2048, ge=1)
    temperature: float = 0.0
    timeout_s: float | None = Field(default=None, gt=0, description="per call; default limits.call_timeout_s")


class Limits(BaseModel):
    """Bounded waits: a hung, throttled or failing endpoint costs at most these, then the rules decide."""

    model_config = ConfigDict(extra="forbid")
    call_timeout_s: float = Field(default=60.0, gt=0, le=600)
    run_deadline_s: float = Field(default=180.0, gt=0, le=3600)
    retries: int = Field(default=1, ge=0, le=5)


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: dict[str, RoleConfig] = Field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)


def model_family(model: str) -> str | None:
    """The provider a model id unmistakably belongs to, or None when any OpenAI-compatible server could serve it."""
    m = model.strip().lower()
    if not m:
        return None
    if m.startswith("gemini") or re.match(r"^claude-[\w.-]+@\d{8}$", m) or m.startswith("projects/"):
        return "vertex"
    if m.startswith("arn:aws:bedrock") or re.match(
            r"^((us|eu|apac|global|us-gov)\.)?(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|writer|qwen|twelvelabs|stability)\.", m):
        return "bedrock"
    return None


def check_model_for_provider(role: str, cfg: RoleConfig, *, provider_from_env: bool) -> None:
    """Refuse a model id of another provider, naming the setting that fixes it."""
    if cfg.provider in ("none", "openai"):
        return  # an OpenAI-compatible gateway may serve any name
    family = model_family(cfg.model)
    if not cfg.model:
        raise ConfigError(f"role {role!r} uses {cfg.provider} but names no model: set CLOUD_DOCTOR_{role.upper()}_MODEL "
                          f"or roles.{role}.model in models.yaml (e.g. {EXAMPLE_MODELS[cfg.provider]})")
    if family is None or family == cfg.provider or (cfg.provider == "ollama" and family is None):
        return
    how = (f"CLOUD_DOCTOR_{role.upper()}_PROVIDER={cfg.provider}" if provider_from_env else f"models.yaml roles.{role}.provider: {cfg.provider}")
    raise ConfigError(f"{how}, but the {role} model {cfg.model!r} is a {PROVIDER_TITLES[family]} model id: "
                      f"set CLOUD_DOCTOR_{role.upper()}_MODEL to a {PROVIDER_TITLES[cfg.provider]} model "
                      f"(e.g. {EXAMPLE_MODELS[cfg.provider]})")


# environment variable -> (provider, key in providers.<provider>)
PROVIDER_ENV = {
    "CLOUD_DOCTOR_BEDROCK_REGION": ("bedrock", "region"),
    "CLOUD_DOCTOR_BEDROCK_ENDPOINT": ("bedrock", "endpoint_url"),
    "CLOUD_DOCTOR_VERTEX_PROJECT": ("vertex", "project"),
    "CLOUD_DOCTOR_VERTEX_LOCATION": ("vertex", "location"),
    "CLOUD_DOCTOR_VERTEX_ENDPOINT": ("vertex", "endpoint"),
    "CLOUD_DOCTOR_VERTEX_CREDENTIALS": ("vertex", "credentials"),
    "CLOUD_DOCTOR_OPENAI_BASE_URL": ("openai", "base_url"),
    "CLOUD_DOCTOR_OPENAI_API_KEY_ENV": ("openai", "api_key_env"),
    "CLOUD_DOCTOR_OLLAMA_BASE_URL": ("ollama", "base_url"),
}
LIMIT_ENV = {
    "CLOUD_DOCTOR_LLM_CALL_TIMEOUT_S": "call_timeout_s",
    "CLOUD_DOCTOR_LLM_RUN_DEADLINE_S": "run_deadline_s",
    "CLOUD_DOCTOR_LLM_RETRIES": "retries",
}


def apply_environment(config: ModelsConfig, environ: dict[str, str] | None = None) -> ModelsConfig:
    """The environment's overrides over the file's values; every role's model checked against its provider."""
    env = dict(os.environ if environ is None else environ)
    for role, cfg in config.roles.items():
        provider_var, model_var = f"CLOUD_DOCTOR_{role.upper()}_PROVIDER", f"CLOUD_DOCTOR_{role.upper()}_MODEL"
        override = env.get(provider_var)
        if override:
            if override not in PROVIDERS:
                raise ConfigError(f"{provider_var}={override!r}: use {', '.join(PROVIDERS)}")
            cfg.provider = override  # type: ignore[assignment]
        if env.get(model_var):
            cfg.model = env[model_var]
        check_model_for_provider(role, cfg, provider_from_env=bool(override))
    for var, (provider, key) in PROVIDER_ENV.items():
        if env.get(var):
            config.providers.setdefault(provider, {})[key] = env[var]
    limits = config.limits.model_dump()
    for var, key in LIMIT_ENV.items():
        if env.get(var):
            limits[key] = env[var]
    try:
        config.limits = Limits.model_validate(limits)
    except ValidationError as exc:
        raise ConfigError(f"invalid model time limits from the environment: {str(exc).splitlines()[0]}") from None
    return config


def load_models_config(path: str | Path, environ: dict[str, str] | None = None) -> ModelsConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = ModelsConfig.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"models config not found: {path}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid models config: {_first_line(exc)}") from None
    return apply_environment(config, environ)


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(exc).splitlines()[0]
