"""The ALB router against moto's server: weighted target groups through boto3, read back after each change.

moto answers the Elastic Load Balancing API but serves no traffic, so the
analysis readings here come from a scripted provider; what is asserted is
the listener's real state on the server after each step, the promotion and
the rollback.
"""

import boto3
import pytest

from agents.delivery.clock import ScaledClock
from agents.delivery.rollout import Release, run_rollout
from tests.moto_server import moto_endpoint  # noqa: F401 (fixture)
from tools.delivery_policy import DeliveryPolicy
from tools.rollout_metrics import IntervalReadings, MetricReading
from tools.traffic.alb import AlbRouter, AlbRouterConfig
from tools.traffic.base import RouterError, Share

POLICY = DeliveryPolicy.model_validate({"analysis": {"interval_seconds": 60, "count": 1, "observe_after_last_step_seconds": 60}})
CLOCK = ScaledClock(0.001)


class ScriptedProvider:
    """Readings as a metrics backend would return them: a canary error rate per round."""

    name = "scripted"

    def __init__(self, error_rates: list[float]):
        self.error_rates = list(error_rates)

    async def begin_interval(self) -> None:
        return None

    async def end_interval(self, quantile: float) -> IntervalReadings:
        rate = self.error_rates.pop(0) if self.error_rates else 0.0
        return IntervalReadings(seconds=0.06, readings=[
            MetricReading(metric="error_rate", role="canary", value=rate, requests=500),
            MetricReading(metric="response_time", role="canary", value=80.0, requests=500),
            MetricReading(metric="error_rate", role="stable", value=0.0, requests=4500),
            MetricReading(metric="response_time", role="stable", value=80.0, requests=4500),
            MetricReading(metric="health", role="canary", value=1.0),
        ])


@pytest.fixture
def alb(moto_endpoint):
    ec2 = boto3.client("ec2", endpoint_url=moto_endpoint, region_name="us-east-1")
    elb = boto3.client("elbv2", endpoint_url=moto_endpoint, region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    lb = elb.create_load_balancer(Name=f"shop-{vpc[-6:]}", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    blue = elb.create_target_group(Name=f"blue-{vpc[-6:]}", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    green = elb.create_target_group(Name=f"green-{vpc[-6:]}", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}])["Listeners"][0]["ListenerArn"]
    config = AlbRouterConfig(listener_arn=listener, stable_target_group_arn=blue, candidate_target_group_arn=green,
                             stable_version="v1", candidate_version="v2", endpoint_url=moto_endpoint, region="us-east-1")
    return elb, config


def forward_weights(elb, listener_arn: str) -> dict[str, int]:
    action = elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]["DefaultActions"][0]
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}
    return {action["TargetGroupArn"].split("/")[-2]: 1}


async def test_weights_are_set_read_back_and_restored_exactly(alb):
    elb, config = alb
    router = AlbRouter(config)
    before = elb.describe_listeners(ListenerArns=[config.listener_arn])["Listeners"][0]["DefaultActions"]
    snapshot = await router.snapshot()
    await router.shift(Share(percent=10, label="10 %"))
    assert (await router.verify_shift(Share(percent=10, label="10 %"))).verified
    weights = forward_weights(elb, config.listener_arn)
    assert sorted(weights.values()) == [10, 90]
    assert not (await router.verify_shift(Share(percent=50, label="50 %"))).verified  # the read-back is really compared
    await router.restore(snapshot)
    check = await router.verify_restored(snapshot)
    assert check.verified, check.detail
    assert elb.describe_listeners(ListenerArns=[config.listener_arn])["Listeners"][0]["DefaultActions"] == before


async def test_a_failing_canary_behind_the_alb_is_rolled_back(alb):
    elb, config = alb
    before = forward_weights(elb, config.listener_arn)
    record = await run_rollout(Release(service="shop-api", version="v2", previous_version="v1"), AlbRouter(config),
                               ScriptedProvider([0.0, 0.04]), POLICY, clock=CLOCK)
    assert record.status == "rolled_back" and record.verified
    assert [s.name for s in record.stages] == ["10 %", "50 %", "rollback"]
    assert "4.00 % errors" in record.stages[1].detail
    assert forward_weights(elb, config.listener_arn) == before


async def test_a_healthy_canary_behind_the_alb_is_promoted(alb):
    elb, config = alb
    record = await run_rollout(Release(service="shop-api", version="v2", previous_version="v1"), AlbRouter(config),
                               ScriptedProvider([]), POLICY, clock=CLOCK)
    assert record.status == "promoted" and record.verified, record.outcome_detail
    weights = forward_weights(elb, config.listener_arn)
    assert list(weights) == [config.candidate_target_group_arn.split("/")[-2]]


async def test_an_unknown_listener_is_a_router_error_and_nothing_changes(alb):
    _, config = alb
    missing = config.model_copy(update={"listener_arn": config.listener_arn.replace("listener/app", "listener/app-gone")})
    record = await run_rollout(Release(service="shop-api", version="v2", previous_version="v1"), AlbRouter(missing),
                               ScriptedProvider([]), POLICY, clock=CLOCK)
    assert record.status == "failed" and "nothing changed" in record.outcome_detail
    with pytest.raises(RouterError):
        await AlbRouter(missing).snapshot()
