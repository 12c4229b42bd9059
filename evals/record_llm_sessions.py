"""Record the model sessions that CI replays: every scenario of a set, run with the generic scripted model.

    python -m evals.record_llm_sessions [evals/scenarios] [evals/llm_sessions]   (make llm-sessions)

The scripted model (tests/llm_strategies.py) answers through a local server
speaking Bedrock Converse, with Claude Sonnet's id and prices and token
counts estimated from the requests, so the recording exercises the real
provider path and its costs look like a real model's. Run it again whenever
a prompt, the evidence or the tool catalogue changes: a replay then misses,
and says so, instead of answering with a stale recording.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from config.settings import REPO_ROOT, get_settings

SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"


def models_yaml(url: str, path: Path) -> Path:
    prices = yaml.safe_load((REPO_ROOT / "config" / "models.yaml").read_text(encoding="utf-8"))["prices"]
    config = {
        "roles": {"triage": {"provider": "bedrock", "model": SONNET, "max_output_tokens": 2048},
                  "author": {"provider": "bedrock", "model": SONNET, "max_output_tokens": 4096}},
        "providers": {"bedrock": {"region": "us-east-1", "endpoint_url": url, "prompt_caching": True}},
        "prices": prices,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def record(scenarios: Path, out: Path) -> dict:
    from interfaces.replay import ModelFlags, models_for_replay, replay_scenarios
    from evals.scenario import find_scenarios
    from tests.llm_servers import FakeModelServer
    from tests.llm_strategies import scripted_model

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "recording-with-a-local-server-only")
    if (out / "runs").is_dir():
        shutil.rmtree(out / "runs")  # a recording replaces the last one whole
    with FakeModelServer(strategy=scripted_model, count_tokens=True) as server, tempfile.TemporaryDirectory() as tmp:
        settings = get_settings()
        models = models_for_replay(settings, ModelFlags(models_file=models_yaml(server.url, Path(tmp) / "models.yaml"), record_llm=out))
        items = asyncio.run(replay_scenarios(find_scenarios(scenarios), settings, concurrency=1, models=models))
    calls = sum(u.calls for i in items if i.outcome for u in i.outcome.usage.values())
    return {"scenarios": len(items), "errors": sum(1 for i in items if i.error), "model_calls": calls, "requests": len(server.requests)}


if __name__ == "__main__":
    args = sys.argv[1:]
    summary = record(Path(args[0]) if args else REPO_ROOT / "evals" / "scenarios",
                     Path(args[1]) if len(args) > 1 else REPO_ROOT / "evals" / "llm_sessions")
    print(summary)
