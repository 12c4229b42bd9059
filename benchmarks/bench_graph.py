"""Replay throughput and the graph's own overhead per hop.

Throughput: the bundled scenarios replayed offline through the real graph
(scenarios per minute). Overhead: a graph with the real state schema and
reducers but no-op agents, so what is measured is LangGraph's routing,
state merging and checkpointing per hop (in memory and in SQLite).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from config.settings import REPO_ROOT, Settings
from evals.scenario import find_scenarios, load_scenario
from graphs.checkpoints import open_checkpointer
from graphs.runner import run_scenario
from graphs.state import Evidence, OpsState, Request

HOPS = 10


def _noop_graph():
    async def supervisor(state: OpsState):
        done = len(state.get("route") or [])
        return Command(goto=END if done >= HOPS else "agent")

    async def agent(state: OpsState):
        n = len(state.get("route") or [])
        return {"route": ["agent"], "evidence": [Evidence(id=f"E{n}", kind="note", source="bench", summary="x" * 200)]}

    graph = StateGraph(OpsState)
    graph.add_node("supervisor", supervisor)
    graph.add_node("agent", agent)
    graph.add_edge(START, "supervisor")
    graph.add_edge("agent", "supervisor")
    return graph


async def _overhead(saver, runs: int = 30) -> list[float]:
    compiled = _noop_graph().compile(checkpointer=saver)
    per_hop = []
    for i in range(runs):
        started = time.perf_counter()
        await compiled.ainvoke({"request": Request(text="bench")}, {"configurable": {"thread_id": f"bench-{i}"}})
        per_hop.append((time.perf_counter() - started) / (HOPS * 2))  # supervisor + agent per hop pair
    return per_hop


async def _replay(settings: Settings, paths: list[Path], concurrency: int) -> float:
    scenarios = [load_scenario(p) for p in paths]
    bound = asyncio.Semaphore(concurrency)

    async def one(s):
        async with bound:
            await run_scenario(s, settings)

    started = time.perf_counter()
    await asyncio.gather(*(one(s) for s in scenarios))
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), memory_enabled=False)
        mem = asyncio.run(_overhead(InMemorySaver()))

        async def sqlite_overhead():
            async with open_checkpointer(settings) as saver:
                return await _overhead(saver)

        sql = asyncio.run(sqlite_overhead())
        print("graph overhead per node hop (no-op agents, real state schema):")
        print(f"  in-memory checkpointer: p50 {statistics.median(mem) * 1000:.2f} ms, p95 {sorted(mem)[int(len(mem) * .95) - 1] * 1000:.2f} ms")
        print(f"  SQLite checkpointer:    p50 {statistics.median(sql) * 1000:.2f} ms, p95 {sorted(sql)[int(len(sql) * .95) - 1] * 1000:.2f} ms")

        paths = find_scenarios(REPO_ROOT / "evals" / "scenarios")
        asyncio.run(_replay(settings, paths[:2], 1))  # warm imports and caches
        for concurrency in (1, 4):
            wall = asyncio.run(_replay(settings, paths, concurrency))
            print(f"replay of {len(paths)} scenarios, concurrency {concurrency}: {wall:.1f} s "
                  f"= {len(paths) / wall * 60:.0f} scenarios/minute (offline, no LLM)")


if __name__ == "__main__":
    main()
