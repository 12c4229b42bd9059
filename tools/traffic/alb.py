"""The AWS ALB router: weighted target groups on a listener (or one of its rules), through boto3.

The stable and the candidate version each sit in a target group; a step
sets the listener's forward action to both groups with weights (90/10,
50/50, 0/100); promotion forwards to the candidate's group alone; a
rollback puts back, exactly, the actions the listener had before. Every
change is read back (`describe_listeners` / `describe_rules`) and compared.

The read-back proves what the load balancer was told; it does not prove
that requests flow (that is the analysis' job, from the metrics provider).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Literal

from pydantic import BaseModel

from tools.cloudwatch import CloudWatchError, aws_errors, make_client
from tools.traffic.base import RouteSnapshot, RouteVerification, RouterError, Share


class AlbRouterConfig(BaseModel):
    kind: Literal["alb"] = "alb"
    listener_arn: str
    rule_arn: str | None = None  # route one listener rule instead of the listener's default action
    stable_target_group_arn: str
    candidate_target_group_arn: str
    stable_version: str = "stable"
    candidate_version: str = "candidate"
    region: str | None = None
    endpoint_url: str | None = None


def _forward(groups: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": arn, "Weight": weight}
                                                                   for arn, weight in groups]}}]


def _weights(actions: list[dict[str, Any]]) -> dict[str, int]:
    """Target group -> weight of a forward action (a plain forward to one group counts as weight 1 of 1)."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {action["TargetGroupArn"]: 1}
    return {}


def _share_of(weights: dict[str, int], arn: str) -> float:
    total = sum(weights.values())
    return weights.get(arn, 0) / total if total else 0.0


class AlbRouter:
    kind = "alb"
    unit = "percent"

    def __init__(self, config: AlbRouterConfig, client: Any = None):
        self.cfg = config
        self._client = client

    def total_units(self) -> int | None:
        return None

    def config(self) -> dict[str, Any]:
        return self.cfg.model_dump(mode="json")

    def _elbv2(self) -> Any:
        if self._client is None:
            self._client = make_client("elbv2", self.cfg.endpoint_url, self.cfg.region)
        return self._client

    async def _call(self, what: str, method: str, **kwargs: Any) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            with aws_errors(f"Elastic Load Balancing ({what})", f"elasticloadbalancing:{method[0].upper()}{method[1:]}",
                            self.cfg.endpoint_url):
                return getattr(self._elbv2(), method)(**kwargs)

        try:
            return await asyncio.to_thread(call)
        except CloudWatchError as exc:  # aws_errors names CloudWatch in its classes; the message names ELB
            raise RouterError(str(exc)) from None

    async def _actions(self) -> list[dict[str, Any]]:
        if self.cfg.rule_arn:
            rules = (await self._call("read the rule", "describe_rules", RuleArns=[self.cfg.rule_arn]))["Rules"]
            if not rules:
                raise RouterError(f"rule {self.cfg.rule_arn} not found")
            return rules[0]["Actions"]
        listeners = (await self._call("read the listener", "describe_listeners", ListenerArns=[self.cfg.listener_arn]))["Listeners"]
        if not listeners:
            raise RouterError(f"listener {self.cfg.listener_arn} not found")
        return listeners[0]["DefaultActions"]

    async def _set(self, actions: list[dict[str, Any]]) -> None:
        if self.cfg.rule_arn:
            await self._call("change the rule", "modify_rule", RuleArn=self.cfg.rule_arn, Actions=actions)
        else:
            await self._call("change the listener", "modify_listener", ListenerArn=self.cfg.listener_arn, DefaultActions=actions)

    async def snapshot(self) -> RouteSnapshot:
        actions = await self._actions()
        weights = _weights(actions)
        if not weights:
            raise RouterError("the listener does not forward to a target group: nothing to shift traffic from")
        shown = ", ".join(f"{arn.rsplit('/', 2)[-2] if '/' in arn else arn} weight={w}" for arn, w in weights.items())
        return RouteSnapshot(router=self.kind, data={"actions": copy.deepcopy(actions)}, summary=f"forward to {shown}")

    def _groups_for(self, share: Share) -> list[tuple[str, int]]:
        return [(self.cfg.stable_target_group_arn, 100 - share.percent), (self.cfg.candidate_target_group_arn, share.percent)]

    async def shift(self, share: Share) -> None:
        await self._set(_forward(self._groups_for(share)))

    async def verify_shift(self, share: Share) -> RouteVerification:
        weights = _weights(await self._actions())
        got = _share_of(weights, self.cfg.candidate_target_group_arn)
        ok = abs(got - share.percent / 100) < 1e-9 and set(weights) <= {self.cfg.stable_target_group_arn, self.cfg.candidate_target_group_arn}
        return RouteVerification(verified=ok, detail=f"the listener forwards {got:.0%} to {self.cfg.candidate_version}'s target group"
                                                     + ("" if ok else f", not {share.label}"))

    async def promote(self) -> None:
        await self._set(_forward([(self.cfg.candidate_target_group_arn, 1)]))

    async def verify_promoted(self) -> RouteVerification:
        weights = _weights(await self._actions())
        ok = [arn for arn, w in weights.items() if w > 0] == [self.cfg.candidate_target_group_arn]
        return RouteVerification(verified=ok, detail=f"the listener forwards only to {self.cfg.candidate_version}'s target group"
                                 if ok else f"the listener forwards to {sorted(weights)}")

    async def restore(self, snapshot: RouteSnapshot) -> None:
        await self._set(copy.deepcopy(snapshot.data["actions"]))

    async def verify_restored(self, snapshot: RouteSnapshot) -> RouteVerification:
        now = _weights(await self._actions())
        before = _weights(snapshot.data["actions"])
        same = {arn: _share_of(now, arn) for arn in now if now[arn]} == {arn: _share_of(before, arn) for arn in before if before[arn]}
        return RouteVerification(verified=same, detail=("the listener forwards as before the rollout: " if same
                                                        else "the listener differs from before the rollout: ")
                                 + ", ".join(f"{arn.rsplit('/', 2)[-2]} {w}" for arn, w in now.items()))
