"""The LLM as one more dependency behind a small interface.

Nodes ask a `ModelRouter` for a role ("triage" or "author"): one structured
answer (`structured`, a pydantic schema) or one turn of a tool-calling
conversation (`converse`, used by agents/investigator). The router sends
prompts from prompts/ with redacted variables, bounds every call (a timeout
per call, a deadline per run), names truncated answers, counts every billed
call under the model that served it, and records or replays exchanges
(agents/llm_sessions.py). With every role on `provider: none` (the default)
`available()` is False and nodes use their rules alone.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.llm_config import Limits, ModelsConfig, ProviderName, RoleConfig, load_models_config  # noqa: F401 (re-exported)
from agents.llm_providers import build_chat_model as _build_for_role, truncation_reason
from agents.llm_sessions import SessionStore, canonical_request
from agents.llm_usage import failed_call, usage_of, usages_of  # noqa: F401 (usages_of re-exported)
from config.settings import Settings, get_settings
from graphs.errors import ConfigError, ProviderError
from graphs.state import RoleUsage
from tools.redact import redact, redact_obj, redact_value

T = TypeVar("T", bound=BaseModel)
CACHE_POINT = {"cachePoint": {"type": "default"}}


class TruncatedAnswer(ProviderError):
    """The provider stopped at the output limit: the answer is cut, not malformed."""


class Structured(BaseModel, Generic[T]):
    value: T
    usage: RoleUsage  # the role that answered (rejected attempts included)
    role: str
    provider: str
    model: str = ""
    usages: dict[str, RoleUsage] = Field(default_factory=dict)  # every billed call of this request, by usage key


class Reply(BaseModel):
    """One answered turn: the model's message and what it cost."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    message: Any
    usage: RoleUsage
    key: str


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


def schema_tool(schema: type[BaseModel], name: str | None = None, description: str | None = None) -> dict[str, Any]:
    """A pydantic schema as an OpenAI-format tool (what every LangChain provider converts from)."""
    tool = convert_to_openai_tool(schema)
    if name:
        tool["function"]["name"] = name
    if description:
        tool["function"]["description"] = description
    return tool


def parse_answer(message: Any, schema: type[T], tool_name: str) -> T:
    """The schema instance in the model's tool call (or JSON text); ValueError with the reason otherwise."""
    calls = [c for c in getattr(message, "tool_calls", None) or [] if c.get("name") == tool_name]
    if calls:
        data: Any = calls[0].get("args") or {}
    else:
        text = message.content if isinstance(message.content, str) else ""
        try:
            data = json.loads(text.strip().removeprefix("```json").removesuffix("```"))
        except (json.JSONDecodeError, AttributeError):
            raise ValueError(f"no {tool_name} call in the answer") from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}") from None


class ModelRouter:
    """Chat models per role, bounded calls, usage per model, recorded or replayed sessions."""

    def __init__(self, config: ModelsConfig, settings: Settings | None = None, *, chat_models: dict[str, Any] | None = None,
                 sessions: SessionStore | None = None, run: str = "run"):
        self.config = config
        self.settings = settings or get_settings()
        self._models: dict[str, Any] = dict(chat_models or {})
        self.sessions = sessions
        self.run = run
        self._clock: float | None = None
        self._seen: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "ModelRouter":
        """models.yaml (or the recording's, when replaying), with sessions from CLOUD_DOCTOR_RECORD_LLM / _REPLAY_LLM."""
        settings = settings or get_settings()
        path = settings.path("models.yaml")
        sessions = None
        if getattr(settings, "replay_llm", None):
            sessions = SessionStore(Path(settings.replay_llm), "replay")
            recorded = Path(settings.replay_llm) / "models.yaml"
            if settings.models_file is None and recorded.is_file():
                path = recorded
        elif getattr(settings, "record_llm", None):
            sessions = SessionStore(Path(settings.record_llm), "record")
        config = load_models_config(path)
        if sessions is not None and not sessions.replaying:
            sessions.save_config(config.model_dump(mode="json"))
        return cls(config, settings, sessions=sessions, run=f"run-{uuid.uuid4().hex[:10]}")  # replay and eval name runs by scenario

    def for_run(self, run: str) -> "ModelRouter":
        """The same models for one run: its own deadline clock and replay position."""
        clone = ModelRouter(self.config, self.settings, chat_models=self._models, sessions=self.sessions, run=run)
        clone._models = self._models  # share built clients
        return clone

    def role(self, role: str) -> RoleConfig:
        if role not in self.config.roles:
            raise ConfigError(f"models.yaml has no role {role!r} (roles: {', '.join(self.config.roles)})")
        return self.config.roles[role]

    def available(self, role: str) -> bool:
        return role in self._models or (role in self.config.roles and self.config.roles[role].provider != "none")

    def describe(self) -> dict[str, str]:
        return {name: (f"{cfg.provider} {cfg.model}" if cfg.provider != "none" else "none") for name, cfg in self.config.roles.items()}

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def chat_model(self, role: str) -> Any:
        if role in self._models:
            return self._models[role]
        model = _build_for_role(role, self.role(role), self.config.providers, self.config.limits)
        self._models[role] = model
        return model

    def time_left(self) -> float:
        """Seconds left of this run's model deadline (the clock starts at the first call)."""
        if self._clock is None:
            return self.limits.run_deadline_s
        return self.limits.run_deadline_s - (time.monotonic() - self._clock)

    # ------------------------------------------------------------------ calls

    async def converse(self, role: str, messages: list[BaseMessage], *, tools: list[dict[str, Any]] | None = None,
                       tool_choice: str | None = None, usage_key: str | None = None, timeout: float | None = None) -> Reply:
        """One model turn. ProviderError (with `.usages`) on timeout, failure, a spent deadline or a truncated answer."""
        cfg = self.config.roles.get(role) or RoleConfig()
        key = usage_key or role
        who = f"{cfg.provider} ({role}, {cfg.model})"
        if self._clock is None:
            self._clock = time.monotonic()
        left = self.time_left()
        if left <= 0:
            raise _with_usage(ProviderError(f"{who}: the model's time for this run ({self.limits.run_deadline_s:.0f} s) is spent"), {})
        wait = min(timeout or cfg.timeout_s or self.limits.call_timeout_s, left)
        messages = redact_value(list(messages))  # the request boundary: nothing unredacted leaves, or is hashed
        tools = list(tools or [])
        request = canonical_request(role, cfg.provider, cfg.model, messages, tools, tool_choice)
        occurrence = self._occurrence(request)
        if self.sessions is not None and self.sessions.replaying:
            message = self.sessions.answer(self.run, occurrence, request)
        else:
            message = await self._invoke(role, cfg, messages, tools, tool_choice, wait, key, who)
            if self.sessions is not None:
                self.sessions.record(self.run, occurrence, request, message)
        usage = usage_of(message, cfg.provider, cfg.model, self.config.prices)
        reason = truncation_reason(message)
        if reason:
            raise _with_usage(TruncatedAnswer(
                f"{who}: the answer was cut at max_output_tokens={cfg.max_output_tokens} ({reason}); "
                f"raise roles.{role}.max_output_tokens in models.yaml"), {key: usage})
        return Reply(message=message, usage=usage, key=key)

    async def _invoke(self, role: str, cfg: RoleConfig, messages: list[BaseMessage], tools: list[dict[str, Any]],
                      tool_choice: str | None, wait: float, key: str, who: str) -> Any:
        try:
            model = self._models.get(role) or await asyncio.to_thread(self.chat_model, role)  # SDK imports take seconds
            messages, tools = self._with_cache_points(cfg, messages, tools)
            runnable = model.bind_tools(tools, tool_choice=tool_choice) if tools else model
            # The sync path in a thread: Vertex's REST transport has no async client. The thread may outlive
            # the wait; the SDK's own timeout (set to the same value) ends it.
            return await asyncio.wait_for(asyncio.to_thread(runnable.invoke, messages), wait)
        except (TimeoutError, asyncio.TimeoutError):
            raise _with_usage(ProviderError(f"{who} did not answer within {wait:.0f} s"), {key: failed_call(cfg.provider, cfg.model)}) from None
        except ProviderError as exc:
            raise _with_usage(exc, {})
        except Exception as exc:  # provider SDKs raise many types; the user needs one line
            raise _with_usage(ProviderError(f"{who} failed: {_one_line(exc)}"), {key: failed_call(cfg.provider, cfg.model)}) from exc

    def _with_cache_points(self, cfg: RoleConfig, messages: list[BaseMessage],
                           tools: list[dict[str, Any]]) -> tuple[list[BaseMessage], list[dict[str, Any]]]:
        """Bedrock prompt caching: a cache point after the system prompt and after the tool schemas."""
        if cfg.provider != "bedrock" or not (self.config.providers.get("bedrock") or {}).get("prompt_caching", True):
            return messages, tools
        out = list(messages)
        if out and isinstance(out[0], SystemMessage) and isinstance(out[0].content, str):
            out[0] = SystemMessage(content=[{"type": "text", "text": out[0].content}, dict(CACHE_POINT)])
        return out, (tools + [dict(CACHE_POINT)]) if tools else tools

    def _occurrence(self, request: dict[str, Any]) -> int:
        from agents.llm_sessions import request_key

        key = request_key(request)
        n = self._seen.get(key, 0)
        self._seen[key] = n + 1
        return n

    async def structured(self, role: str, prompt_name: str, variables: dict[str, Any], schema: type[T]) -> Structured[T]:
        """Ask `role` for an instance of `schema`; fall back to the configured fallback role on failure."""
        prompt = render_prompt(load_prompt(str(self.settings.prompts_dir), prompt_name), variables)
        try:
            return await self._structured_once(role, role, prompt, schema)
        except ProviderError as first:
            fallback = self.config.roles[role].fallback if role in self.config.roles else None
            if fallback and fallback != role and self.available(fallback):
                try:
                    result = await self._structured_once(fallback, f"{role} (fallback {fallback})", prompt, schema)
                except ProviderError as second:
                    raise _with_usage(second, {**usages_of(first), **usages_of(second)}) from None
                result.usages = {**usages_of(first), **result.usages}
                return result
            raise

    async def _structured_once(self, role: str, key: str, prompt: str, schema: type[T]) -> Structured[T]:
        cfg = self.config.roles.get(role) or RoleConfig()
        name = schema.__name__
        reply = await self.converse(role, [HumanMessage(content=prompt)], tools=[schema_tool(schema)], tool_choice=name, usage_key=key)
        try:
            value = parse_answer(reply.message, schema, name)
        except ValueError as exc:
            raise _with_usage(ProviderError(f"{cfg.provider} ({role}) returned an answer that does not fit {name}: {redact(str(exc))[:300]}"),
                              {key: reply.usage}) from None
        return Structured[schema](value=value, usage=reply.usage, role=role, provider=cfg.provider, model=cfg.model,  # type: ignore[valid-type]
                                  usages={key: reply.usage})

    async def with_tools(self, role: str, prompt_name: str, variables: dict[str, Any], tools: list[Any]) -> tuple[Any, RoleUsage]:
        """One tool-calling turn on a prompt: the AI message (with .tool_calls) and its usage."""
        prompt = render_prompt(load_prompt(str(self.settings.prompts_dir), prompt_name), variables)
        specs = [t if isinstance(t, dict) else convert_to_openai_tool(t) for t in tools]
        reply = await self.converse(role, [HumanMessage(content=prompt)], tools=specs)
        return reply.message, reply.usage


def build_chat_model(cfg: RoleConfig, providers: dict[str, dict[str, Any]], limits: Limits | None = None) -> Any:
    """The provider's LangChain chat model, configured from models.yaml (kept for callers outside the router)."""
    return _build_for_role("model", cfg, providers, limits or Limits())


def _with_usage(exc: ProviderError, usages: dict[str, RoleUsage]) -> ProviderError:
    exc.usages = {**usages_of(exc), **usages}  # type: ignore[attr-defined]
    return exc


def _one_line(exc: Any) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)[:300]


__all__ = ["ModelRouter", "ModelsConfig", "RoleConfig", "Limits", "Structured", "Reply", "TruncatedAnswer", "load_models_config",
           "load_prompt", "render_prompt", "schema_tool", "parse_answer", "build_chat_model", "usages_of", "AIMessage", "SystemMessage"]
