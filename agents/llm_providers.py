"""Building each provider's LangChain chat model, with bounded waits, and reading how an answer ended.

Every provider gets a per-call timeout and a small retry budget from
models.yaml `limits`; the router also bounds each call with its own clock,
so an SDK that ignores its timeout cannot hold a run. Configuration
problems found while building (no Vertex project, no credentials, a missing
package) raise ProviderError with one line: the run goes on with the rules.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

from agents.llm_config import Limits, RoleConfig
from graphs.errors import ProviderError

VERTEX_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
OLLAMA_INSTALL = "pip install 'cloud-doctor[ollama]' (or: pip install langchain-ollama==1.1.0)"

# How each provider says "I stopped because max_tokens ran out".
TRUNCATION_MARKERS = {
    "stopReason": {"max_tokens", "model_context_window_exceeded"},  # Bedrock Converse
    "finish_reason": {"MAX_TOKENS", "length", "max_tokens"},  # Vertex (Gemini), OpenAI-compatible
    "done_reason": {"length"},  # Ollama
}


def truncation_reason(message: Any) -> str | None:
    """The provider's stop reason when the answer was cut at the output limit, else None."""
    meta = getattr(message, "response_metadata", None) or {}
    for key, values in TRUNCATION_MARKERS.items():
        value = meta.get(key)
        if isinstance(value, str) and value in values:
            return f"{key} {value}"
    return None


def build_chat_model(role: str, cfg: RoleConfig, providers: dict[str, dict[str, Any]], limits: Limits) -> Any:
    """The provider's LangChain chat model for one role."""
    settings = providers.get(cfg.provider, {}) or {}
    timeout = cfg.timeout_s or limits.call_timeout_s
    if cfg.provider == "none":
        raise ProviderError(f"role {role!r} has provider none (the embedded default); no chat model to build")
    if cfg.provider == "bedrock":
        return _bedrock(cfg, settings, timeout, limits.retries)
    if cfg.provider == "vertex":
        return _vertex(cfg, settings, timeout, limits.retries)
    if cfg.provider == "openai":
        return _openai(role, cfg, settings, timeout, limits.retries)
    if cfg.provider == "ollama":
        return _ollama(cfg, settings, timeout)
    raise ProviderError(f"unknown provider {cfg.provider!r}")


def _bedrock(cfg: RoleConfig, settings: dict[str, Any], timeout: float, retries: int) -> Any:
    from botocore.config import Config
    from langchain_aws import ChatBedrockConverse

    # Standard retry mode backs off on throttling; total_max_attempts counts the first try (max_attempts would not).
    config = Config(connect_timeout=min(10.0, timeout), read_timeout=timeout,
                    retries={"mode": "standard", "total_max_attempts": 1 + retries})
    kwargs: dict[str, Any] = {
        "model": cfg.model, "region_name": settings.get("region") or "us-east-1",
        "temperature": cfg.temperature, "max_tokens": cfg.max_output_tokens, "config": config,
    }
    if settings.get("endpoint_url"):
        kwargs["endpoint_url"] = settings["endpoint_url"]
    return ChatBedrockConverse(**kwargs)


def adc_present() -> bool:
    """Whether Application Default Credentials can exist here, judged from local files only.

    google.auth.default() would otherwise probe the GCE metadata server over the network (seconds, and
    traffic to a link-local address) just to learn that there are none."""
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    config_dir = os.environ.get("CLOUDSDK_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    if os.path.isfile(os.path.join(config_dir, "application_default_credentials.json")):
        return True
    try:
        with open("/sys/class/dmi/id/product_name", encoding="utf-8") as fh:  # a GCE or GKE machine has a metadata server
            return fh.read().strip().startswith("Google")
    except OSError:
        return False


def vertex_credentials(settings: dict[str, Any]) -> tuple[Any, str | None]:
    """(credentials, project) for Vertex AI: Application Default Credentials unless `credentials: anonymous`.

    Credentials are passed explicitly, so a private endpoint override
    (Private Service Connect, a proxy) receives them too. An endpoint
    override on a machine without any ADC (a local test server) is called
    without credentials."""
    mode = str(settings.get("credentials") or "adc").lower()
    if mode not in ("adc", "anonymous"):
        raise ProviderError(f"providers.vertex.credentials {mode!r}: use adc or anonymous")
    if mode == "anonymous" or (settings.get("endpoint") and not adc_present()):
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials(), None
    if not adc_present():
        raise ProviderError("vertex: no Application Default Credentials: run `gcloud auth application-default login` "
                            "or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file")
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, project = google.auth.default(scopes=VERTEX_SCOPES)
    except DefaultCredentialsError:
        raise ProviderError("vertex: no Application Default Credentials: run `gcloud auth application-default login` "
                            "or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file") from None
    return credentials, project


def _vertex(cfg: RoleConfig, settings: dict[str, Any], timeout: float, retries: int) -> Any:
    credentials, adc_project = vertex_credentials(settings)
    project = settings.get("project") or adc_project
    if not project:
        raise ProviderError("vertex: no GCP project: set CLOUD_DOCTOR_VERTEX_PROJECT (or providers.vertex.project in "
                            "models.yaml, or a project in your Application Default Credentials)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ChatVertexAI's deprecation notice: it still works, see LESSONS.md
        from langchain_google_vertexai import ChatVertexAI

        kwargs: dict[str, Any] = {
            "model_name": cfg.model, "project": project, "location": settings.get("location") or "us-central1",
            "temperature": cfg.temperature, "max_output_tokens": cfg.max_output_tokens,
            "max_retries": retries, "timeout": timeout, "credentials": credentials,
        }
        if settings.get("endpoint"):
            kwargs.update(api_endpoint=settings["endpoint"], api_transport="rest")
        return ChatVertexAI(**kwargs)


def _openai(role: str, cfg: RoleConfig, settings: dict[str, Any], timeout: float, retries: int) -> Any:
    """Any server speaking OpenAI's chat completions: vLLM, llama.cpp, LM Studio, Ollama's /v1, Azure OpenAI's /openai/v1."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise ProviderError("the openai provider needs langchain-openai: pip install langchain-openai") from None
    base_url = settings.get("base_url")
    key_env = settings.get("api_key_env") or "OPENAI_API_KEY"
    api_key = os.environ.get(str(key_env))
    if not api_key:
        if not base_url:
            raise ProviderError(f"openai ({role}): set {key_env} (or providers.openai.base_url for a local server)")
        api_key = "not-needed"  # local servers (vLLM, llama.cpp) accept any key
    kwargs: dict[str, Any] = {"model": cfg.model, "api_key": api_key, "timeout": timeout, "max_retries": retries,
                              "temperature": cfg.temperature, "max_tokens": cfg.max_output_tokens}
    if base_url:
        kwargs["base_url"] = base_url
    return ChatOpenAI(**kwargs)


def _ollama(cfg: RoleConfig, settings: dict[str, Any], timeout: float) -> Any:
    try:
        from langchain_ollama import ChatOllama  # type: ignore[import-not-found]
    except ImportError:
        raise ProviderError(f"the ollama provider needs langchain-ollama: {OLLAMA_INSTALL}; "
                            "or use provider openai with base_url http://127.0.0.1:11434/v1") from None
    return ChatOllama(model=cfg.model, base_url=settings.get("base_url") or "http://127.0.0.1:11434",
                      temperature=cfg.temperature, num_predict=cfg.max_output_tokens,
                      client_kwargs={"timeout": math.ceil(timeout)})
