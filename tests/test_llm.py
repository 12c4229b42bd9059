"""Bedrock and Vertex code paths against local servers speaking their wire formats."""

import pytest
from pydantic import BaseModel

from agents.llm import ModelRouter, ModelsConfig, RoleConfig
from config.settings import Settings
from graphs.errors import ProviderError
from graphs.routing import RouteChoice
from tests.llm_servers import FakeModelServer


@pytest.fixture(autouse=True)
def aws_dummy_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def router(server: FakeModelServer, provider: str, fallback: str | None = None, fallback_provider: str | None = None) -> ModelRouter:
    roles = {"triage": RoleConfig(provider=provider, model="gemini-2.5-flash" if provider == "vertex" else "anthropic.claude-sonnet-4-20250514-v1:0", fallback=fallback)}
    if fallback:
        roles[fallback] = RoleConfig(provider=fallback_provider, model="gemini-2.5-flash" if fallback_provider == "vertex" else "anthropic.claude-sonnet-4-20250514-v1:0")
    config = ModelsConfig(
        roles=roles,
        providers={"bedrock": {"region": "us-east-1", "endpoint_url": server.url},
                   "vertex": {"project": "shop-ops", "location": "asia-northeast3", "endpoint": server.url}},
        prices={"gemini-2.5-flash": {"input": 0.30, "output": 2.50},
                "anthropic.claude-sonnet-4-20250514-v1:0": {"input": 3.0, "output": 15.0}},
    )
    return ModelRouter(config, Settings())


class RunDiagnostic(BaseModel):
    """Run one read-only diagnostic command on a host."""

    host: str
    command: str


@pytest.mark.parametrize("provider", ["bedrock", "vertex"])
async def test_structured_output_round_trip_counts_tokens_and_cost(provider):
    with FakeModelServer() as server:
        server.answers.append({"args": {"agent": "planner", "reason": "asks to resize EKS"}})
        answer = await router(server, provider).structured("triage", "route", {"text": "EKS 노드 수를 2개로"}, RouteChoice)
    assert answer.value == RouteChoice(agent="planner", reason="asks to resize EKS")
    assert answer.usage.calls == 1 and answer.usage.input_tokens > 0 and answer.usage.output_tokens > 0
    assert answer.usage.cost_usd > 0
    path, body = server.requests[0]
    assert ("/converse" in path) == (provider == "bedrock")
    assert "EKS" in str(body)


@pytest.mark.parametrize("provider", ["bedrock", "vertex"])
async def test_tool_call_round_trip(provider):
    with FakeModelServer() as server:
        server.answers.append({"args": {"host": "web2", "command": "free -m"}, "tool": "RunDiagnostic"})
        message, usage = await router(server, provider).with_tools("triage", "route", {"text": "web2 memory alert"}, [RunDiagnostic])
    assert message.tool_calls[0]["name"] == "RunDiagnostic"
    assert message.tool_calls[0]["args"] == {"host": "web2", "command": "free -m"}
    assert usage.input_tokens > 0
    sent = server.bodies()
    assert "RunDiagnostic" in sent  # the tool schema reached the provider


@pytest.mark.parametrize("provider,error", [
    ("bedrock", (403, "AccessDeniedException", "You don't have access to the model with the specified model ID.")),
    ("vertex", (403, "PERMISSION_DENIED", "Permission denied on resource project shop-ops.")),
])
async def test_provider_error_is_one_clear_line(provider, error):
    with FakeModelServer() as server:
        server.answers.append({"error": error})
        with pytest.raises(ProviderError) as caught:
            await router(server, provider).structured("triage", "route", {"text": "x"}, RouteChoice)
    message = str(caught.value)
    assert message.startswith(f"{provider} (triage")
    assert "\n" not in message


async def test_failed_provider_falls_back_to_the_configured_role():
    with FakeModelServer() as server:
        server.answers.append({"error": (403, "AccessDeniedException", "no access")})
        server.answers.append({"args": {"agent": "diagnostician", "reason": "errors"}})
        answer = await router(server, "bedrock", fallback="author", fallback_provider="vertex").structured(
            "triage", "route", {"text": "api 500 에러"}, RouteChoice)
    assert answer.value.agent == "diagnostician"
    assert answer.role == "author" and answer.provider == "vertex"


async def test_secrets_never_reach_the_provider():
    with FakeModelServer() as server:
        server.answers.append({"args": {"agent": "diagnostician", "reason": "x"}})
        await router(server, "bedrock").structured(
            "triage", "route",
            {"text": "db down, DSN mysql://app:S3cretPass@db1:3306/shop key AKIAIOSFODNN7EXAMPLE token xoxb-123456789012-abcdefghijkl"},
            RouteChoice)
    sent = server.bodies()
    assert "S3cretPass" not in sent and "AKIAIOSFODNN7EXAMPLE" not in sent and "xoxb-123456789012" not in sent
    assert "[REDACTED]" in sent


async def test_answer_that_does_not_fit_the_schema_is_a_provider_error():
    with FakeModelServer() as server:
        server.answers.append({"args": {"agent": "launch-missiles"}})
        with pytest.raises(ProviderError, match="does not fit RouteChoice|validation"):
            await router(server, "bedrock").structured("triage", "route", {"text": "x"}, RouteChoice)


def test_embedded_default_has_no_model():
    r = ModelRouter.from_settings(Settings())
    assert not r.available("triage") and not r.available("author")
