"""What the Slack door posts: reports, progress, approval requests and the confirmation modal, as Block Kit.

Pure functions of the run's events. Every string that came from a run passes
through `safe` (redact, then escape Slack's control characters), so neither a
secret nor an injected `<!channel>` can reach a channel through a report.
"""

from __future__ import annotations

import json
import re
from typing import Any

from interfaces.web.events import ApprovalView
from tools.redact import redact

SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
MAX_BLOCKS = 45  # Slack allows 50 blocks per message
APPROVE, REJECT, CONFIRM_VIEW, EMERGENCY = "cd_approve", "cd_reject", "cd_confirm", "cd_emergency"
PROGRESS_KEEP = 15  # progress lines shown; older ones are counted
STATUS_ICON = {"completed": "✅", "awaiting_approval": "⏸️", "rejected": "🚫", "blocked": "⛔", "needs_input": "❓",
               "failed": "⚠️", "running": "⏳", "waiting": "⏳"}


def tagged(environment: str, text: str) -> str:
    """Every post names the environment the run is about, first."""
    return f"`{environment}` {text}"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe(text: str | None) -> str:
    return escape(redact(text or ""))


def to_mrkdwn(markdown: str) -> str:
    """Our report Markdown in Slack's mrkdwn: headings and **bold** become *bold*, fences lose their language."""
    out: list[str] = []
    in_code = False
    for line in safe(markdown).splitlines():
        if line.startswith("```"):
            in_code = not in_code
            out.append("```")
            continue
        if not in_code:
            heading = re.match(r"^#{1,6}\s+(.*)$", line)
            if heading:
                line = f"*{heading.group(1).replace('**', '')}*"
            line = re.sub(r"\*\*(.+?)\*\*", r"*\1*", line)
            line = re.sub(r"^(\s*)- ", r"\1• ", line)
        out.append(line)
    return "\n".join(out)


def chunk(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at line ends under `limit`, closing and reopening a code fence that a split cuts through."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    in_code = False
    for line in text.splitlines():
        line = line if len(line) <= limit - 10 else line[: limit - 11] + "…"
        if size + len(line) + 1 > limit - 8 and current:
            parts.append("\n".join(current) + ("\n```" if in_code else ""))
            current, size = (["```"] if in_code else []), (4 if in_code else 0)
        current.append(line)
        size += len(line) + 1
        if line.startswith("```"):
            in_code = not in_code
    if current:
        parts.append("\n".join(current))
    return [p for p in parts if p.strip()]


def report_messages(status: str, headline: str, markdown: str, environment: str) -> list[dict[str, Any]]:
    """One or more messages (text + blocks) carrying the whole report."""
    title = tagged(environment, f"{STATUS_ICON.get(status, '')} *{safe(status.replace('_', ' '))}*: {safe(headline)}")
    body = markdown.split("\n", 1)[1] if markdown.startswith("## ") and "\n" in markdown else markdown  # its own title line
    sections = [title, *chunk(to_mrkdwn(body.strip()))] if body.strip() else [title]
    if status == "needs_input":
        sections.insert(1, "_Reply in this thread to answer; the run goes on from here._")
    elif status == "waiting":
        sections.insert(1, "_Reply `continue` in this thread to check the gate again (workers also check it when it is due)._")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    fallback = redact(f"{status.replace('_', ' ')} ({environment}): {headline}")[:300]
    return [{"text": fallback, "blocks": blocks[i:i + MAX_BLOCKS]} for i in range(0, len(blocks), MAX_BLOCKS)]


def progress_message(lines: list[str], environment: str, finished: str | None = None, total: int | None = None,
                     keep: int = PROGRESS_KEEP) -> dict[str, Any]:
    """The run's one progress message: the last `keep` steps, the count of all of them, and how it ended."""
    total = len(lines) if total is None else total
    if finished == "awaiting_approval":
        head = f"{STATUS_ICON[finished]} waiting for approval"
    else:
        head = f"{STATUS_ICON.get(finished or 'running', '')} " + (f"finished ({finished.replace('_', ' ')})" if finished else "working…")
    shown = lines[-keep:]
    more = f"_… {total - len(shown)} earlier step(s)_\n" if total > len(shown) else ""
    body = more + "\n".join(f"• {safe(line)}" for line in shown)
    text = tagged(environment, f"{head} — {total} step(s)\n{body}" if body else head)
    return {"text": text[:3000]}


def decision_text(data: dict[str, Any], environment: str) -> str:
    verb = "✔️ approved" if data.get("approved") else "✖️ rejected"
    needed = f" — still needed: {data['still_needed']}" if data.get("still_needed") else ""
    return tagged(environment, f"{verb} by {safe(data.get('user'))} ({safe(data.get('role'))}){safe(needed)}")


def with_emergency_button(message: dict[str, Any], thread_id: str) -> dict[str, Any]:
    """A blocked report offers to ask again as an emergency (the override needs its own approval)."""
    button = {"type": "actions", "block_id": "cd_emergency", "elements": [
        {"type": "button", "action_id": EMERGENCY, "value": json.dumps({"t": thread_id}),
         "text": {"type": "plain_text", "text": "Ask as an emergency"},
         "confirm": {"title": {"type": "plain_text", "text": "Emergency override"},
                     "text": {"type": "mrkdwn", "text": "This asks again, outside the deployment window. The override needs its own "
                                                        "approval (config/policy.yaml emergency_override) on top of the usual ones."},
                     "confirm": {"type": "plain_text", "text": "Ask"}, "deny": {"type": "plain_text", "text": "Cancel"}}},
    ]}
    return {**message, "blocks": [*message.get("blocks", []), button]}


def approval_message(view: ApprovalView, closed: str | None = None) -> dict[str, Any]:
    """The approval request with Approve / Reject buttons; without buttons once the run moved on."""
    fields = [
        ("Risk", view.risk), ("Cost", view.cost), ("Rollback", view.rollback),
        ("Still needed", view.still_needed + (f"\n_{'; '.join(view.why)}_" if view.why else "")),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Approval needed — {view.environment}, risk {view.risk}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*What*\n```{safe(view.action)[:2800]}```"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Why*\n{safe(view.reason)[:2800]}"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{safe(v)[:1900]}"} for k, v in fields]},
    ]
    if view.confirmation:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Approving asks you to type `{safe(view.confirmation)}` to confirm."}]})
    if view.blocked:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Blocked*: " + safe("; ".join(view.blocked))[:2800]}})
    context = f"run `{safe(view.thread_id)}` · asked by {safe(view.requested_by)} · request {safe(view.request_id)}"
    if view.expires_at:
        context += f" · expires {safe(view.expires_at[:16].replace('T', ' '))} UTC"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if closed is None:
        value = json.dumps({"t": view.thread_id, "r": view.request_id})
        blocks.append({"type": "actions", "block_id": "cd_decide", "elements": [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": value, "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT, "style": "danger", "value": value, "text": {"type": "plain_text", "text": "Reject"}},
        ]})
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{STATUS_ICON.get(closed, '')} closed: {safe(closed.replace('_', ' '))}"}]})
    return {"text": redact(f"Approval needed ({view.environment}): {view.action}")[:300], "blocks": blocks}


def confirm_modal(view: ApprovalView, metadata: dict[str, Any]) -> dict[str, Any]:
    """A modal asking the approver to type the environment name before a destroy is approved."""
    return {
        "type": "modal", "callback_id": CONFIRM_VIEW, "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "Confirm approval"},
        "submit": {"type": "plain_text", "text": "Approve"}, "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{safe(view.action)[:2000]}*\nin *{safe(view.environment)}*, risk {safe(view.risk)}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"This destroys *{safe(view.confirmation)}*. To approve, type its name below."}},
            {"type": "input", "block_id": "confirm", "label": {"type": "plain_text", "text": f"Environment name ({view.confirmation})"},
             "element": {"type": "plain_text_input", "action_id": "value"}},
            {"type": "input", "block_id": "reason", "optional": True, "label": {"type": "plain_text", "text": "Reason"},
             "element": {"type": "plain_text_input", "action_id": "value"}},
        ],
    }


HELP = (
    "*Cloud Doctor* — `/doctor <what is wrong or what you need> [dev|staging|prod]`\n"
    "• `/doctor web2 memory keeps growing prod` — diagnose, propose a fix, ask for approvals in the thread\n"
    "• `/doctor emergency <what to change> prod` — ask outside the deployment window (the override needs its own approval)\n"
    "• `/doctor approve <run> [confirm <env>]` · `/doctor reject <run> [reason]` · `/doctor status <run>`\n"
    "• `/doctor deployments [env]` · `/doctor rollback <deployment> <why>` — rollouts, their outcome, a rollback by the policy's approvals\n"
    "Without an environment word, the channel's environment applies (config/slack.yaml `channels`).\n"
    "Reply in a run's thread to answer its question or follow up (\"why?\", \"do the same in prod\", \"roll it back\").\n"
    "Approvals use your roles from config/slack.yaml; the policy (config/policy.yaml) says who must approve what."
)
