"""The LLM as one more dependency behind a small interface.

Nodes ask a `ModelRouter` for a role ("triage" or "author") and a pydantic
schema; the router builds the configured provider's chat model, sends a
prompt from prompts/ with redacted variables, validates the structured
answer and counts tokens and cost per role. With every role on `provider:
none` (the default) `available()` is False and nodes use their rules alone.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import Settings, get_settings
from graphs.errors import ConfigError, ProviderError
from graphs.state import RoleUsage
from tools.redact import redact, redact_obj, redact_value

T = TypeVar("T", bound=BaseModel)
ProviderName = Literal["bedrock", "vertex", "ollama", "none"]


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: ProviderName = "none"
    model: str = ""
    fallback: str | None = None
    max_output_tokens: int = 2048
    temperature: float = 0.0


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: dict[str, RoleConfig] = Field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)


class Structured(BaseModel, Generic[T]):
    value: T
    usage: RoleUsage
    role: str
    provider: str


def load_models_config(path: str | Path) -> ModelsConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = ModelsConfig.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"models config not found: {path}") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid models config: {str(exc).splitlines()[0]}") from None
    for role, cfg in config.roles.items():
        override = os.environ.get(f"CLOUD_DOCTOR_{role.upper()}_PROVIDER")
        if override:
            if override not in ("bedrock", "vertex", "ollama", "none"):
                raise ConfigError(f"CLOUD_DOCTOR_{role.upper()}_PROVIDER={override!r}: use bedrock, vertex, ollama or none")
            cfg.provider = override  # type: ignore[assignment]
        model = os.environ.get(f"CLOUD_DOCTOR_{role.upper()}_MODEL")
        if model:
            cfg.model = model
    if os.environ.get("CLOUD_DOCTOR_BEDROCK_ENDPOINT"):
        config.providers.setdefault("bedrock", {})["endpoint_url"] = os.environ["CLOUD_DOCTOR_BEDROCK_ENDPOINT"]
    if os.environ.get("CLOUD_DOCTOR_VERTEX_ENDPOINT"):
        config.providers.setdefault("vertex", {})["endpoint"] = os.environ["CLOUD_DOCTOR_VERTEX_ENDPOINT"]
    return config


@lru_cache(maxsize=32)
def load_prompt(prompts_dir: str, name: str) -> str:
    path = Path(prompts_dir) / f"{name}.md"
    if not path.is_file():
        raise ConfigError(f"prompt {name!r} not found at {path}")
    return path.read_text(encoding="utf-8")


def render_prompt(template: str, variables: dict[str, Any]) -> str:
    """Fill {placeholders} with redacted values; unknown braces stay as they are."""

    class _Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    safe = {k: redact(v if isinstance(v, str) else _to_text(v)) for k, v in variables.items()}
    return template.format_map(_Keep(safe))


def _to_text(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=1)
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(redact_obj(value), allow_unicode=True, sort_keys=False, default_flow_style=False)
    return str(value)


class ModelRouter:
    """Builds chat models per role and runs structured calls with usage accounting."""

    def __init__(self, config: ModelsConfig, settings: Settings | None = None, *, chat_models: dict[str, Any] | None = None):
        self.config = config
        self.settings = settings or get_settings()
        self._models: dict[str, Any] = dict(chat_models or {})

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "ModelRouter":
        settings = settings or get_settings()
        return cls(load_models_config(settings.path("models.yaml")), settings)

    def role(self, role: str) -> RoleConfig:
        if role not in self.config.roles:
            raise ConfigError(f"models.yaml has no role {role!r} (roles: {', '.join(self.config.roles)})")
        return self.config.roles[role]

    def available(self, role: str) -> bool:
        return role in self._models or (role in self.config.roles and self.config.roles[role].provider != "none")

    def describe(self) -> dict[str, str]:
        return {name: (f"{cfg.provider}:{cfg.model}" if cfg.provider != "none" else "none") for name, cfg in self.config.roles.items()}

    # ------------------------------------------------------------ chat models

    def chat_model(self, role: str) -> Any:
        if role in self._models:
            return self._models[role]
        cfg = self.role(role)
        model = build_chat_model(cfg, self.config.providers)
        self._models[role] = model
        return model

    # ------------------------------------------------------------------ calls

    async def structured(self, role: str, prompt_name: str, variables: dict[str, Any], schema: type[T]) -> Structured[T]:
        """Ask `role` for an instance of `schema`; fall back to the configured fallback role on failure."""
        prompt = render_prompt(load_prompt(str(self.settings.prompts_dir), prompt_name), variables)
        try:
            return await self._structured_once(role, prompt, schema)
        except ProviderError as first:
            fallback = self.role(role).fallback if role in self.config.roles else None
            if fallback and fallback != role and self.available(fallback):
                result = await self._structured_once(fallback, prompt, schema)
                return result
            raise first

    async def _structured_once(self, role: str, prompt: str, schema: type[T]) -> Structured[T]:
        cfg = self.config.roles.get(role, RoleConfig())
        model = self.chat_model(role)
        try:
            runnable = model.with_structured_output(schema, include_raw=True)
            # The sync path in a thread: Vertex's REST transport has no async client.
            out = await asyncio.to_thread(runnable.invoke, redact_value(prompt))  # the request boundary: nothing unredacted leaves
        except Exception as exc:  # provider SDKs raise many types; the user needs one line
            raise ProviderError(f"{cfg.provider} ({role}, {cfg.model}) failed: {_one_line(exc)}") from exc
        raw, parsed, error = out.get("raw"), out.get("parsed"), out.get("parsing_error")
        usage = self._usage(cfg, raw)
        if parsed is None or error is not None:
            raise ProviderError(f"{cfg.provider} ({role}) returned an answer that does not fit {schema.__name__}: {_one_line(error) if error else 'empty'}")
        if isinstance(parsed, dict):
            try:
                parsed = schema.model_validate(parsed)
            except ValidationError as exc:
                raise ProviderError(f"{cfg.provider} ({role}) answer failed validation: {_one_line(exc)}") from None
        return Structured[schema](value=parsed, usage=usage, role=role, provider=cfg.provider)  # type: ignore[valid-type]

    async def with_tools(self, role: str, prompt_name: str, variables: dict[str, Any], tools: list[Any]) -> tuple[Any, RoleUsage]:
        """One tool-calling turn: returns the AI message (with .tool_calls) and its usage."""
        cfg = self.config.roles.get(role, RoleConfig())
        prompt = render_prompt(load_prompt(str(self.settings.prompts_dir), prompt_name), variables)
        try:
            message = await asyncio.to_thread(self.chat_model(role).bind_tools(tools).invoke, redact_value(prompt))
        except Exception as exc:
            raise ProviderError(f"{cfg.provider} ({role}, {cfg.model}) failed: {_one_line(exc)}") from exc
        return message, self._usage(cfg, message)

    def _usage(self, cfg: RoleConfig, message: Any) -> RoleUsage:
        meta = getattr(message, "usage_metadata", None) or {}
        tokens_in = int(meta.get("input_tokens", 0) or 0)
        tokens_out = int(meta.get("output_tokens", 0) or 0)
        price = self.config.prices.get(cfg.model, {})
        cost = tokens_in / 1e6 * price.get("input", 0.0) + tokens_out / 1e6 * price.get("output", 0.0)
        return RoleUsage(calls=1, input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=round(cost, 6))


def build_chat_model(cfg: RoleConfig, providers: dict[str, dict[str, Any]]) -> Any:
    """The provider's LangChain chat model, configured from models.yaml."""
    settings = providers.get(cfg.provider, {})
    if cfg.provider == "none":
        raise ConfigError("this role has provider none (the embedded default); no chat model to build")
    if cfg.provider == "bedrock":
        from langchain_aws import ChatBedrockConverse

        kwargs: dict[str, Any] = {
            "model": cfg.model, "region_name": settings.get("region", "us-east-1"),
            "temperature": cfg.temperature, "max_tokens": cfg.max_output_tokens,
        }
        if settings.get("endpoint_url"):
            kwargs["endpoint_url"] = settings["endpoint_url"]
        return ChatBedrockConverse(**kwargs)
    if cfg.provider == "vertex":
        if not settings.get("project"):
            raise ConfigError("models.yaml providers.vertex.project is required for the vertex provider")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_google_vertexai import ChatVertexAI

            kwargs = {
                "model_name": cfg.model, "project": settings["project"], "location": settings.get("location", "us-central1"),
                "temperature": cfg.temperature, "max_output_tokens": cfg.max_output_tokens, "max_retries": 0,
            }
            if settings.get("endpoint"):
                from google.auth.credentials import AnonymousCredentials

                kwargs.update(api_endpoint=settings["endpoint"], api_transport="rest", credentials=AnonymousCredentials())
            return ChatVertexAI(**kwargs)
    if cfg.provider == "ollama":
        try:
            from langchain_ollama import ChatOllama  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError("the ollama provider needs `pip install langchain-ollama`") from None
        return ChatOllama(model=cfg.model, base_url=settings.get("base_url", "http://127.0.0.1:11434"), temperature=cfg.temperature)
    raise ConfigError(f"unknown provider {cfg.provider!r}")


def _one_line(exc: Any) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)[:300]
