"""`/doctor deployments [env]` and `/doctor rollback <deployment> <reason>` in Slack.

The same desk as the CLI and the web API (agents/delivery/desk.py): the
listing is a short read answered privately to the person who asked; a
rollback request is checked at once (one line when it cannot be asked) and
queued as a run in a new thread of the channel, where its approval buttons
appear like any other run's (in prod the DevOps lead and the CTO).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphs.errors import CloudDoctorError
from graphs.state import ENVIRONMENTS
from graphs.threads import new_thread_id
from interfaces import slack_blocks as blocks
from interfaces.queue.models import SlackOrigin, SlackPlace

if TYPE_CHECKING:
    from agents.delivery.desk import DeploymentListing
    from interfaces.slack_app import SlackDoor


def listing_text(listing: DeploymentListing, environment: str | None) -> str:
    """A few lines: active deployments, the most recent finished ones, and the statistics."""
    stats = listing.statistics
    lines = [f"*Deployments{f' in {environment}' if environment else ''}*"]
    for title, records in (("active", listing.active), ("recent", listing.recent[:10])):
        if records:
            lines.append(f"{title}:")
            for r in records:
                stage = f", stage {r.stage}" if r.stage else ""
                lines.append(f"• `{r.id}` {r.environment} {r.service} {r.previous_version} → {r.version} "
                             f"({r.strategy}, {r.status}{stage})")
    if len(lines) == 1:
        lines.append("no deployments recorded yet")
    lines.append(f"{stats.rollbacks} rollbacks ({stats.automatic_rollbacks} automatic, {stats.manual_rollbacks} manual, "
                 f"{stats.verified_rollbacks} verified)")
    return "\n".join(lines)


async def deployments_command(door: SlackDoor, args: list[str], user: str, channel: str) -> None:
    from agents.delivery.desk import list_deployments

    environment = args[0].lower() if args else None
    if environment is not None and environment not in ENVIRONMENTS:
        await door._ephemeral(channel, user, None, f"usage: {door.config.command} deployments [{'|'.join(ENVIRONMENTS)}]")
        return
    try:
        listing = await door.service.call(list_deployments, door.service.settings, limit=30, environment=environment)
    except CloudDoctorError as exc:
        await door._ephemeral(channel, user, None, blocks.safe(str(exc)))
        return
    await door._ephemeral(channel, user, None, blocks.safe(listing_text(listing, environment)))


async def rollback_command(door: SlackDoor, args: list[str], user: str, channel: str) -> None:
    if len(args) < 2:
        await door._ephemeral(channel, user, None, f"usage: {door.config.command} rollback <deployment id> <why>")
        return
    deployment_id, reason = args[0], " ".join(args[1:])
    thread_id = new_thread_id("slack")
    try:
        from agents.delivery.desk import check_rollback_request

        record = await door.service.call(check_rollback_request, door.service.settings, deployment_id, reason)
        place = SlackPlace(thread_id=thread_id, channel=channel, environment=record.environment,
                           root_text=blocks.tagged(record.environment, f"⏪ <@{user}> asked to roll back {record.id} "
                                                   f"({record.service} {record.version} → {record.previous_version}): "
                                                   f"{blocks.safe(reason)}"))
        await door.service.start_rollback(deployment_id, reason, door._user_ref(user), "slack", thread_id, slack=place,
                                          reply_to=SlackOrigin(channel=channel, user=user))
    except CloudDoctorError as exc:
        await door._ephemeral(channel, user, None, f"no rollback asked: {blocks.safe(str(exc))}")
