"""Providers under stress, against local servers speaking their wire formats: hung, throttled, failing and
truncating endpoints end within the deadline; every billed call is counted under its model; overrides
and Vertex credentials; the OpenAI-compatible provider; ollama's install hint."""

from __future__ import annotations

import base64
import importlib.util
import json
import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agents.llm import ModelRouter, ModelsConfig, RoleConfig, TruncatedAnswer, load_models_config, schema_tool, usages_of
from agents.llm_config import Limits
from config.settings import Settings
from graphs.errors import ConfigError, ProviderError
from graphs.report import build_report
from graphs.routing import RouteChoice
from graphs.state import Request, RoleUsage
from tests.llm_servers import FakeModelServer

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"
MODELS = {"bedrock": SONNET, "vertex": "gemini-2.5-flash", "openai": "qwen2.5-14b-instruct"}
PRICES = {SONNET: {"input": 3.0, "output": 15.0, "cache_read": 0.3}, "gemini-2.5-flash": {"input": 0.30, "output": 2.50, "cache_read": 0.03},
          "qwen2.5-14b-instruct": {"input": 0.1, "output": 0.2}}
ROUTE = {"agent": "planner", "reason": "asks to resize EKS"}


@pytest.fixture(autouse=True)
def offline_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent-gcloud")


def router(server: FakeModelServer, provider: str, *, limits: Limits | None = None, max_tokens: int = 2048,
           fallback: tuple[str, str] | None = None, vertex: dict | None = None) -> ModelRouter:
    roles = {"triage": RoleConfig(provider=provider, model=MODELS[provider], max_output_tokens=max_tokens,
                                  fallback=fallback[0] if fallback else None)}
    if fallback:
        roles[fallback[0]] = RoleConfig(provider=fallback[1], model=MODELS[fallback[1]])
    config = ModelsConfig(
        roles=roles,
        providers={"bedrock": {"region": "us-east-1", "endpoint_url": server.url},
                   "vertex": vertex or {"project": "shop-ops", "location": "asia-northeast3", "endpoint": server.url},
                   "openai": {"base_url": server.url + "/v1"}},
        prices=PRICES, limits=limits or Limits(),
    )
    return ModelRouter(config, Settings())


# ----------------------------------------------------------------- bounded waits


@pytest.mark.parametrize("provider", ["bedrock", "vertex", "openai"])
async def test_a_hung_endpoint_ends_within_the_call_timeout(provider):
    with FakeModelServer() as server:
        server.answers.append({"hang": True})
        r = router(server, provider, limits=Limits(call_timeout_s=1, run_deadline_s=30, retries=0))
        r.chat_model("triage")  # the SDK's first import is not the endpoint's wait
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            await r.structured("triage", "route", {"text": "x"}, RouteChoice)
        waited = time.monotonic() - started
    assert waited < 5
    assert str(caught.value).startswith(f"{provider} (triage") and "did not answer within 1 s" in str(caught.value)
    assert usages_of(caught.value)["triage"].failed_calls == 1


async def test_the_run_deadline_bounds_every_call_after_it():
    with FakeModelServer() as server:
        server.answers.extend([{"hang": True}, {"hang": True}])
        r = router(server, "bedrock", limits=Limits(call_timeout_s=1, run_deadline_s=1.5, retries=0))
        r.chat_model("triage")  # the SDK's first import is not the endpoint's wait
        started = time.monotonic()
        messages = []
        for _ in range(3):
            with pytest.raises(ProviderError) as caught:
                await r.structured("triage", "route", {"text": "x"}, RouteChoice)
            messages.append(str(caught.value))
        waited = time.monotonic() - started
    assert waited < 4
    assert "did not answer within 1 s" in messages[0]
    assert "the model's time for this run (2 s) is spent" in messages[2]
    assert len(server.requests) <= 2  # the third call never left the machine


async def test_a_throttled_bedrock_endpoint_is_retried_then_gives_up_in_one_line():
    with FakeModelServer() as server:
        server.answers.extend([{"error": (429, "ThrottlingException", "Too many requests, please wait before trying again.")}] * 3)
        r = router(server, "bedrock", limits=Limits(call_timeout_s=20, run_deadline_s=60, retries=1))
        with pytest.raises(ProviderError) as caught:
            await r.structured("triage", "route", {"text": "x"}, RouteChoice)
    assert len(server.requests) == 2  # one retry, as configured
    assert "ThrottlingException" in str(caught.value) or "Too many requests" in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_a_throttled_endpoint_that_recovers_answers():
    with FakeModelServer() as server:
        server.answers.extend([{"error": (429, "ThrottlingException", "slow down")}, {"args": ROUTE}])
        answer = await router(server, "bedrock").structured("triage", "route", {"text": "x"}, RouteChoice)
    assert answer.value.agent == "planner" and len(server.requests) == 2


# ----------------------------------------------------------------- truncation


@pytest.mark.parametrize("provider,stop", [("bedrock", "max_tokens"), ("vertex", "MAX_TOKENS"), ("openai", "length")])
async def test_a_truncated_answer_is_named_and_its_tokens_counted(provider, stop):
    with FakeModelServer() as server:
        server.answers.append({"args": {"agent": "planner"}, "stop": stop})
        with pytest.raises(TruncatedAnswer) as caught:
            await router(server, provider, max_tokens=64).structured("triage", "route", {"text": "x"}, RouteChoice)
    message = str(caught.value)
    assert "cut at max_output_tokens=64" in message and stop in message and "does not fit" not in message
    spent = usages_of(caught.value)["triage"]
    assert spent.calls == 1 and spent.output_tokens > 0 and spent.cost_usd > 0


# ----------------------------------------------------------------- accounting


async def test_a_rejected_answer_still_counts_its_tokens():
    with FakeModelServer() as server:
        server.answers.append({"args": {"agent": "launch-missiles"}})
        with pytest.raises(ProviderError, match="does not fit RouteChoice") as caught:
            await router(server, "bedrock").structured("triage", "route", {"text": "x"}, RouteChoice)
    spent = usages_of(caught.value)["triage"]
    assert (spent.calls, spent.input_tokens, spent.output_tokens) == (1, 120, 30)
    assert spent.cost_usd == pytest.approx((120 * 3 + 30 * 15) / 1e6)


async def test_gemini_thinking_tokens_are_billed_as_output_and_cached_tokens_at_the_cache_price():
    with FakeModelServer() as server:
        server.answers.append({"args": ROUTE, "usage": {"input": 1000, "output": 50, "cached": 800, "thinking": 400}})
        answer = await router(server, "vertex").structured("triage", "route", {"text": "x"}, RouteChoice)
    u = answer.usage
    assert (u.reasoning_tokens, u.output_tokens, u.cache_read_tokens) == (400, 450, 800)
    assert u.cost_usd == pytest.approx((200 * 0.30 + 800 * 0.03 + 450 * 2.50) / 1e6)
    assert (u.provider, u.model) == ("vertex", "gemini-2.5-flash")


async def test_bedrock_prompt_caching_puts_cache_points_after_system_and_tools_and_counts_cache_reads():
    with FakeModelServer() as server:
        server.answers.append({"args": ROUTE, "usage": {"input": 5000, "output": 20, "cached": 4000}})
        r = router(server, "bedrock")
        reply = await r.converse("triage", [SystemMessage(content="system rules " * 50), HumanMessage(content="the incident")],
                                 tools=[schema_tool(RouteChoice)], tool_choice="RouteChoice")
    body = server.requests[0][1]
    assert body["system"][-1] == {"cachePoint": {"type": "default"}}
    assert body["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}
    u = reply.usage
    assert u.cache_read_tokens == 4000 and u.input_tokens == 5000
    assert u.cost_usd == pytest.approx((1000 * 3.0 + 4000 * 0.3 + 20 * 15.0) / 1e6)


async def test_a_fallback_is_booked_under_its_own_model():
    with FakeModelServer() as server:
        server.answers.append({"error": (403, "AccessDeniedException", "no access")})
        server.answers.append({"args": {"agent": "diagnostician", "reason": "errors"}})
        answer = await router(server, "bedrock", fallback=("author", "vertex")).structured("triage", "route", {"text": "x"}, RouteChoice)
    assert answer.role == "author" and answer.provider == "vertex"
    primary, fallback = answer.usages["triage"], answer.usages["triage (fallback author)"]
    assert (primary.provider, primary.model, primary.failed_calls, primary.calls) == ("bedrock", SONNET, 1, 0)
    assert (fallback.provider, fallback.model, fallback.calls) == ("vertex", "gemini-2.5-flash", 1)
    assert fallback.cost_usd == pytest.approx((200 * 0.30 + 40 * 2.50) / 1e6)


def test_the_report_names_provider_and_model_per_role():
    usage = {"triage": RoleUsage(calls=3, input_tokens=9000, output_tokens=600, cost_usd=0.036, provider="bedrock", model=SONNET,
                                 cache_read_tokens=4000),
             "author": RoleUsage(provider="vertex", model="gemini-2.5-pro", failed_calls=1)}
    report = build_report({"request": Request(text="x"), "usage": usage}, interrupted=False)
    assert f"triage (bedrock {SONNET}): 3 call(s)" in report.markdown and "4000 cached" in report.markdown
    assert "author (vertex gemini-2.5-pro): 0 call(s)" in report.markdown and "1 failed call(s)" in report.markdown


# ----------------------------------------------------------------- overrides


def write_models(tmp_path, triage_provider="vertex", triage_model="gemini-2.5-flash"):
    path = tmp_path / "models.yaml"
    path.write_text(f"roles:\n  triage: {{provider: {triage_provider}, model: {triage_model}}}\n  author: {{provider: none, model: {SONNET}}}\n")
    return path


def test_a_provider_override_alone_refuses_the_other_providers_model_in_one_line(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_models_config(write_models(tmp_path), {"CLOUD_DOCTOR_TRIAGE_PROVIDER": "bedrock"})
    message = str(caught.value)
    assert "\n" not in message and "CLOUD_DOCTOR_TRIAGE_PROVIDER=bedrock" in message
    assert "'gemini-2.5-flash' is a Vertex AI model id" in message and "CLOUD_DOCTOR_TRIAGE_MODEL" in message


def test_provider_and_model_overrides_together_work(tmp_path):
    config = load_models_config(write_models(tmp_path), {"CLOUD_DOCTOR_TRIAGE_PROVIDER": "bedrock", "CLOUD_DOCTOR_TRIAGE_MODEL": SONNET,
                                                         "CLOUD_DOCTOR_VERTEX_PROJECT": "shop-ops", "CLOUD_DOCTOR_LLM_RUN_DEADLINE_S": "90"})
    assert (config.roles["triage"].provider, config.roles["triage"].model) == ("bedrock", SONNET)
    assert config.providers["vertex"]["project"] == "shop-ops" and config.limits.run_deadline_s == 90


def test_a_bedrock_model_under_vertex_in_the_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"roles.triage.provider: vertex, but the triage model .* is a Bedrock model id"):
        load_models_config(write_models(tmp_path, "vertex", SONNET), {})


def test_the_shipped_models_yaml_loads_and_uses_no_model():
    config = load_models_config(Settings().path("models.yaml"), {})
    assert config.limits.call_timeout_s <= 60 and config.limits.run_deadline_s <= 180
    assert all(role.provider == "none" for role in config.roles.values())


# ----------------------------------------------------------------- Vertex project and credentials


async def test_vertex_project_and_location_come_from_the_environment(tmp_path, monkeypatch):
    with FakeModelServer() as server:
        monkeypatch.setenv("CLOUD_DOCTOR_VERTEX_PROJECT", "env-project")
        monkeypatch.setenv("CLOUD_DOCTOR_VERTEX_LOCATION", "asia-northeast3")
        monkeypatch.setenv("CLOUD_DOCTOR_VERTEX_ENDPOINT", server.url)
        config = load_models_config(write_models(tmp_path))
        server.answers.append({"args": ROUTE})
        await ModelRouter(config, Settings()).structured("triage", "route", {"text": "x"}, RouteChoice)
    assert "/projects/env-project/locations/asia-northeast3/" in server.requests[0][0]


async def test_a_missing_vertex_project_is_a_provider_error_not_an_abort(tmp_path):
    with FakeModelServer() as server:
        r = router(server, "vertex", vertex={"location": "us-central1", "endpoint": server.url})
        with pytest.raises(ProviderError, match="CLOUD_DOCTOR_VERTEX_PROJECT"):
            await r.structured("triage", "route", {"text": "x"}, RouteChoice)
    assert server.requests == []


def service_account_file(tmp_path, token_uri: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "adc-project", "private_key_id": "k1", "private_key": pem,
                                "client_email": "doctor@adc-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri}))
    return str(path)


async def test_vertex_endpoint_override_sends_adc_credentials_and_takes_the_adc_project(tmp_path, monkeypatch):
    from google.auth.credentials import CredentialsWithRegionalAccessBoundary

    # google-auth would look up the account's allowed regions on iamcredentials.googleapis.com: keep traffic on loopback
    monkeypatch.setattr(CredentialsWithRegionalAccessBoundary, "_is_regional_access_boundary_lookup_required", lambda self: False)
    with FakeModelServer() as server:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", service_account_file(tmp_path, server.url + "/token"))
        server.answers.append({"args": ROUTE})
        r = router(server, "vertex", vertex={"location": "us-central1", "endpoint": server.url})
        answer = await r.structured("triage", "route", {"text": "x"}, RouteChoice)
    assert answer.value.agent == "planner"
    scheme, token = server.headers[-1].get("authorization", " ").split(" ", 1)
    # a service account signs its own JWT for Google APIs (or exchanges it at token_uri): either way it is its identity
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==")) if token.count(".") == 2 else {"iss": "token"}
    assert scheme == "Bearer" and (token == server.token or claims["iss"] == "doctor@adc-project.iam.gserviceaccount.com")
    assert "/projects/adc-project/" in server.requests[-1][0]


# ----------------------------------------------------------------- OpenAI-compatible and Ollama


async def test_openai_compatible_structured_output_and_tool_calls(tmp_path):
    from pydantic import BaseModel

    class PodLogs(BaseModel):
        """Read a pod's recent log lines."""

        namespace: str
        pod: str

    with FakeModelServer() as server:
        server.answers.append({"args": ROUTE})
        server.answers.append({"calls": [{"tool": "PodLogs", "args": {"namespace": "shop", "pod": "api-7d9"}}]})
        r = router(server, "openai")
        answer = await r.structured("triage", "route", {"text": "EKS 노드 수를 2개로"}, RouteChoice)
        reply = await r.converse("triage", [HumanMessage(content="api pods restart")], tools=[schema_tool(PodLogs)])
    assert answer.value.agent == "planner" and answer.usage.cost_usd > 0 and answer.usage.provider == "openai"
    assert reply.message.tool_calls[0]["name"] == "PodLogs" and reply.message.tool_calls[0]["args"] == {"namespace": "shop", "pod": "api-7d9"}
    path, body = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "qwen2.5-14b-instruct"
    assert body["tools"][0]["function"]["name"] == "RouteChoice" and body["tool_choice"]["function"]["name"] == "RouteChoice"


@pytest.mark.skipif(importlib.util.find_spec("langchain_ollama") is not None, reason="langchain-ollama is installed here")
async def test_ollama_without_its_package_says_exactly_how_to_install_it():
    config = ModelsConfig(roles={"triage": RoleConfig(provider="ollama", model="qwen2.5:14b")})
    with pytest.raises(ProviderError) as caught:
        await ModelRouter(config, Settings()).structured("triage", "route", {"text": "x"}, RouteChoice)
    assert "pip install 'cloud-doctor[ollama]'" in str(caught.value) and "\n" not in str(caught.value)
