"""Recorded model sessions: a run's exchanges are stored, a later run is answered from them without network,
and a changed request is a clear miss."""

from __future__ import annotations

import json

import pytest

from agents.llm import ModelRouter, ModelsConfig, RoleConfig, usages_of
from agents.llm_sessions import SessionStore
from config.settings import Settings
from graphs.errors import ProviderError
from graphs.routing import RouteChoice
from tests.llm_servers import FakeModelServer

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.fixture(autouse=True)
def aws_dummy_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def config(url: str = "http://127.0.0.1:9") -> ModelsConfig:
    return ModelsConfig(roles={"triage": RoleConfig(provider="bedrock", model=SONNET)},
                        providers={"bedrock": {"region": "us-east-1", "endpoint_url": url}},
                        prices={SONNET: {"input": 3.0, "output": 15.0}})


async def test_a_recorded_session_replays_without_the_server_and_counts_the_same(tmp_path):
    with FakeModelServer() as server:
        server.answers.extend([{"args": {"agent": "planner", "reason": "resize"}}, {"args": {"agent": "diagnostician", "reason": "5xx"}}])
        recorder = ModelRouter(config(server.url), Settings(), sessions=SessionStore(tmp_path, "record"), run="eks-ko")
        first = await recorder.structured("triage", "route", {"text": "EKS 노드 수를 2개로, password=hunter2hunter2"}, RouteChoice)
        second = await recorder.structured("triage", "route", {"text": "api 500 에러"}, RouteChoice)
    stored = (tmp_path / "runs" / "eks-ko.jsonl").read_text()
    assert "hunter2hunter2" not in stored and "EKS" not in stored  # keys and digests, not prompts
    # the server is gone: replay must not need it (port 9 refuses connections)
    replayer = ModelRouter(config(), Settings(), sessions=SessionStore(tmp_path, "replay"), run="eks-ko")
    again = await replayer.structured("triage", "route", {"text": "EKS 노드 수를 2개로, password=hunter2hunter2"}, RouteChoice)
    other = await replayer.structured("triage", "route", {"text": "api 500 에러"}, RouteChoice)
    assert (again.value, other.value) == (first.value, second.value)
    assert again.usage == first.usage and other.usage.cost_usd == second.usage.cost_usd > 0
    assert replayer.sessions.hits == 2 and replayer.sessions.misses == []


async def test_a_changed_prompt_is_a_clear_miss_not_a_wrong_answer(tmp_path):
    with FakeModelServer() as server:
        server.answers.append({"args": {"agent": "planner", "reason": "resize"}})
        recorder = ModelRouter(config(server.url), Settings(), sessions=SessionStore(tmp_path, "record"), run="r1")
        await recorder.structured("triage", "route", {"text": "EKS 노드 수를 2개로"}, RouteChoice)
    replayer = ModelRouter(config(), Settings(), sessions=SessionStore(tmp_path, "replay"), run="r1")
    with pytest.raises(ProviderError) as caught:
        await replayer.structured("triage", "route", {"text": "EKS 노드 수를 3개로"}, RouteChoice)
    message = str(caught.value)
    assert "no recorded answer" in message and "differs first at message 1" in message and "--record-llm" in message
    assert usages_of(caught.value) == {} and replayer.sessions.misses


async def test_record_saves_the_models_config_without_endpoints(tmp_path):
    settings = Settings(record_llm=tmp_path / "rec", models_file=tmp_path / "models.yaml")
    (tmp_path / "models.yaml").write_text(f"roles:\n  triage: {{provider: bedrock, model: {SONNET}}}\n"
                                          "providers:\n  bedrock: {region: us-east-1, endpoint_url: 'http://127.0.0.1:1234'}\n")
    router = ModelRouter.from_settings(settings)
    saved = (tmp_path / "rec" / "models.yaml").read_text()
    assert router.sessions.mode == "record" and "bedrock" in saved and "127.0.0.1" not in saved
    (tmp_path / "rec" / "runs").mkdir()
    replay = ModelRouter.from_settings(Settings(replay_llm=tmp_path / "rec"))  # the recording's models.yaml, not config/
    assert replay.available("triage") and replay.sessions.replaying


def test_replay_of_a_folder_without_sessions_is_one_line(tmp_path):
    from graphs.errors import UserInputError
    from interfaces.replay import ModelFlags, models_for_replay

    with pytest.raises(UserInputError, match="no recorded model sessions there"):
        models_for_replay(Settings(), ModelFlags(replay_llm=tmp_path))
    with pytest.raises(UserInputError, match="exclude each other"):
        models_for_replay(Settings(), ModelFlags(replay_llm=tmp_path, record_llm=tmp_path))


def test_the_request_key_ignores_provider_call_ids():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from agents.llm_sessions import canonical_request, request_key

    def convo(call_id: str):
        return [HumanMessage(content="x"), AIMessage(content="", tool_calls=[{"name": "host_memory", "args": {"host": "web1"}, "id": call_id}]),
                ToolMessage(content="Mem: 100", tool_call_id=call_id, name="host_memory")]

    a = request_key(canonical_request("triage", "vertex", "gemini-2.5-flash", convo("5f1c-uuid"), [], None))
    b = request_key(canonical_request("triage", "vertex", "gemini-2.5-flash", convo("9e07-uuid"), [], None))
    assert a == b
    assert json.dumps(canonical_request("triage", "vertex", "m", convo("x"), [], None)).count("host_memory") == 2
