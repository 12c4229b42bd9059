"""A scripted model for whole runs: reads the request in any provider's wire format and answers generically.

Used by the fake servers (tests/llm_servers.py) to record model sessions
for the eval (evals/llm_sessions) and by `make bench`. It is not clever and
is keyed to no scenario: it reads one catalogue tool it has not read yet
(when tools are offered and it has read nothing), then agrees with the
rules' answer shown in the prompt, citing the rules' evidence (and its own
read when that succeeded). Routing follows the rules' classifier, planning
echoes the rules' reading, and the Terraform author declines. So a run
with it exercises every model path, costs what a real model's prompts
cost, and should score what the rules score.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class Conversation:
    system: str = ""
    texts: list[str] = field(default_factory=list)  # user texts and tool results, in order
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # the model's earlier tool calls
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # offered tools: name -> JSON Schema
    forced: str | None = None

    @property
    def observation(self) -> str:
        return self.texts[0] if self.texts else ""


def read_request(provider: str, body: dict[str, Any]) -> Conversation:
    c = Conversation()
    if provider == "bedrock":
        c.system = "".join(b.get("text", "") for b in body.get("system") or [])
        for m in body.get("messages") or []:
            for block in m.get("content") or []:
                if "text" in block and m["role"] == "user":
                    c.texts.append(block["text"])
                elif "toolUse" in block:
                    c.calls.append((block["toolUse"]["name"], block["toolUse"].get("input") or {}))
                elif "toolResult" in block:
                    c.texts.append("".join(x.get("text", json.dumps(x.get("json", ""))) for x in block["toolResult"].get("content") or []))
        for t in (body.get("toolConfig") or {}).get("tools") or []:
            if "toolSpec" in t:
                c.tools[t["toolSpec"]["name"]] = t["toolSpec"]["inputSchema"]["json"]
        choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
        c.forced = (choice.get("tool") or {}).get("name")
    elif provider == "vertex":
        c.system = "".join(p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts") or [])
        for m in body.get("contents") or []:
            for part in m.get("parts") or []:
                if "text" in part and m.get("role") == "user":
                    c.texts.append(part["text"])
                elif "functionCall" in part:
                    c.calls.append((part["functionCall"]["name"], part["functionCall"].get("args") or {}))
                elif "functionResponse" in part:
                    c.texts.append(json.dumps(part["functionResponse"].get("response"), ensure_ascii=False))
        for t in body.get("tools") or []:
            for d in t.get("functionDeclarations") or []:
                c.tools[d["name"]] = d.get("parameters") or {}
        allowed = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("allowedFunctionNames") or []
        c.forced = allowed[0] if len(allowed) == 1 else None
    else:
        for m in body.get("messages") or []:
            if m["role"] == "system":
                c.system = m.get("content") or ""
            elif m["role"] in ("user", "tool"):
                c.texts.append(m.get("content") if isinstance(m.get("content"), str) else json.dumps(m.get("content")))
            for call in m.get("tool_calls") or []:
                c.calls.append((call["function"]["name"], json.loads(call["function"]["arguments"] or "{}")))
        for t in body.get("tools") or []:
            c.tools[t["function"]["name"]] = t["function"].get("parameters") or {}
        choice = body.get("tool_choice")
        c.forced = choice["function"]["name"] if isinstance(choice, dict) else None
    return c


def scripted_model(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    """The answer of the generic scripted model, in the fake servers' answer format."""
    c = read_request(provider, body)
    if "submit_diagnosis" in c.tools:
        return _diagnose(c)
    if "RouteChoice" in c.tools:
        from graphs.routing import classify_text

        text = re.search(r"<text>\s*(.*?)\s*</text>", c.observation, re.S)
        return {"tool": "RouteChoice", "args": {"agent": classify_text(text.group(1) if text else c.observation), "reason": "scripted: as the rules"}}
    if "PlanDraft" in c.tools:
        return {"tool": "PlanDraft", "args": _echo_plan(c.observation)}
    if "submit_patch" in c.tools or "AuthoredPatch" in c.tools:
        name = "submit_patch" if "submit_patch" in c.tools else "AuthoredPatch"
        return {"tool": name, "args": {"summary": "no change", "cannot_fix": "the scripted model writes no Terraform"}}
    return {"text": "the scripted model has no answer for this request"}


def _diagnose(c: Conversation) -> dict[str, Any]:
    reads = [name for name, _ in c.calls if name != "submit_diagnosis"]
    if not reads and c.forced != "submit_diagnosis":
        for name, schema in c.tools.items():
            if name == "submit_diagnosis":
                continue
            args = _fill(schema)
            if args is not None:
                return {"tool": name, "args": args}
    m = re.search(r"The rules' own diagnosis: (\w+) \(\d+%\), citing (.*)", c.observation)
    category, cited = (m.group(1), re.findall(r"E\d+", m.group(2))) if m else ("unknown", [])
    own = [eid for text in c.texts[1:] for eid in re.findall(r"^\[(E\d+)\] .*\(exit 0", text, re.M)]
    if category != "unknown":
        cited = cited + own[:1]
    candidates = _candidates(c.observation)
    runners = [{"category": x["category"], "confidence": min(1.0, float(x.get("confidence", 0))), "evidence_ids": list(x.get("evidence_ids") or [])[:4],
                "reasoning": "scripted: the analyzers' runner-up"} for x in candidates if x.get("category") != category][:2]
    return {"tool": "submit_diagnosis", "args": {
        "summary": f"{category}, as the rules found" + (f" ({', '.join(f'[{e}]' for e in cited)})" if cited else ""),
        "root_cause": category, "confidence": 0.8 if category != "unknown" else 0.3, "runners_up": runners,
        "citations": cited, "fix_kind": "none", "next_checks": [], "suggested_commands": []}}


def _fill(schema: dict[str, Any]) -> dict[str, Any] | None:
    """Arguments for a tool whose required parameters have an enum (a host) or a default; None otherwise."""
    args: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = (schema.get("properties") or {}).get(name) or {}
        if prop.get("enum"):
            args[name] = prop["enum"][0]
        elif "default" in prop:
            args[name] = prop["default"]
        else:
            return None
    return args


def _candidates(observation: str) -> list[dict[str, Any]]:
    m = re.search(r"Candidates from the rule-based analyzers[^\n]*\n(\[.*?\n\])", observation, re.S)
    try:
        return json.loads(m.group(1)) if m else []
    except json.JSONDecodeError:
        return []


def _echo_plan(prompt: str) -> dict[str, Any]:
    m = re.search(r"What the rule-based reader made of the words[^\n]*\n(.*?)\n\nThe words:", prompt, re.S)
    rules = yaml.safe_load(m.group(1)) if m else {}
    rules = rules if isinstance(rules, dict) else {}
    changes = [{"path": p, "value": v} for p, v in (rules.get("changes") or {}).items()]
    return {"intent": rules.get("intent") or "query", "environment": rules.get("environment"), "changes": changes,
            "question": rules.get("question"), "answer": rules.get("answer"), "rationale": "scripted: as the rules"}
