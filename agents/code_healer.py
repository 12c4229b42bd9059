"""The code healer: one small, tested patch for a code-level diagnosis.

Not built yet. Until it is, the node says so plainly in the report and
proposes nothing: an invented patch is worse than none.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from graphs.state import AgentNote, OpsState


async def code_healer(state: OpsState, config: RunnableConfig) -> dict:
    diagnosis = state.get("diagnosis")
    target = (diagnosis.target.get("file") if diagnosis else None) or "the affected code"
    text = (
        f"code healer is not built yet: no patch proposed for {target}. "
        "A person should write the fix; the diagnosis above cites the evidence."
    )
    return {"route": ["code_healer"], "notes": [AgentNote(agent="code_healer", level="limitation", text=text)]}
