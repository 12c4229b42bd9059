"""Model cost per incident: tokens, calls and dollars of the investigation over the development set.

Every incident of evals/scenarios runs through the real graph with the
generic scripted model (tests/llm_strategies.py) behind a local server
speaking Bedrock Converse, priced as Claude Sonnet, with token counts
estimated from the real requests (4 characters a token) and prompt caching
on. Printed per incident: model calls, input / cached / output
tokens, cost, and the compressed evidence the model sees (characters);
then the mean and worst case against config/investigation.yaml's bench
target (<= $0.05 and <= 8 calls per incident). The scripted model reads at
most one tool and then agrees with the rules, so these are the loop's
floor for a model that investigates little: a real model that reads more
costs more, which is what the budgets bound.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from config.settings import REPO_ROOT, get_settings


def main() -> None:
    from agents.diagnosis.llm import compress_evidence
    from agents.investigator.budget import load_investigation_config
    from evals.record_llm_sessions import models_yaml
    from evals.scenario import find_scenarios, load_scenario
    from interfaces.replay import ModelFlags, models_for_replay, replay_scenarios
    from tests.llm_servers import FakeModelServer
    from tests.llm_strategies import scripted_model

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark-with-a-local-server-only")
    settings = get_settings()
    target = load_investigation_config(str(settings.config_dir)).bench
    paths = [p for p in find_scenarios(REPO_ROOT / "evals" / "scenarios") if load_scenario(p).kind == "incident"]
    with FakeModelServer(strategy=scripted_model, count_tokens=True) as server, tempfile.TemporaryDirectory() as tmp:
        models = models_for_replay(settings, ModelFlags(models_file=models_yaml(server.url, Path(tmp) / "models.yaml")))
        items = asyncio.run(replay_scenarios(paths, settings, concurrency=2, models=models))
    rows = []
    for item in items:
        if item.outcome is None:
            print(f"{Path(item.path).stem}: {item.error}")
            continue
        usage = [u for key, u in item.outcome.usage.items() if key.startswith("triage")]
        rows.append({
            "scenario": item.scenario.id, "calls": sum(u.calls for u in usage),
            "in": sum(u.input_tokens for u in usage), "cached": sum(u.cache_read_tokens for u in usage),
            "out": sum(u.output_tokens for u in usage), "cost": sum(u.cost_usd for u in usage),
            "evidence_chars": len(compress_evidence(list(item.outcome.evidence))),
        })
    print(f"{len(rows)} incidents, scripted model priced as {target.price_model}; target <= ${target.target_cost_usd:.2f} "
          f"and <= {target.target_calls} model calls per incident")
    print(f"{'scenario':44} {'calls':>5} {'in':>7} {'cached':>7} {'out':>6} {'cost':>8} {'evidence':>9}")
    for r in rows:
        print(f"{r['scenario'][:44]:44} {r['calls']:5d} {r['in']:7d} {r['cached']:7d} {r['out']:6d} ${r['cost']:7.4f} {r['evidence_chars']:9d}")
    if not rows:
        return
    costs, calls = [r["cost"] for r in rows], [r["calls"] for r in rows]
    over = [r["scenario"] for r in rows if r["cost"] > target.target_cost_usd or r["calls"] > target.target_calls]
    print(f"per incident: cost mean ${statistics.mean(costs):.4f}, max ${max(costs):.4f}; calls mean {statistics.mean(calls):.2f}, "
          f"max {max(calls)}; tokens in mean {statistics.mean(r['in'] for r in rows):.0f} "
          f"(cached {sum(r['cached'] for r in rows) / max(1, sum(r['in'] for r in rows)):.0%}); compressed evidence mean "
          f"{statistics.mean(r['evidence_chars'] for r in rows):.0f} chars, max {max(r['evidence_chars'] for r in rows)}")
    print("within target" if not over else f"over target: {', '.join(over)}")


if __name__ == "__main__":
    main()
