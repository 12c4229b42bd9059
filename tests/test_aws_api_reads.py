"""AWS reads through boto3 (settings `aws_reads: api`): the same typed call, the same parser, against moto's server."""

from __future__ import annotations

import boto3
import pytest

from agents.diagnosis.parsers import parse_output
from tests.moto_server import moto_endpoint  # noqa: F401  (fixture)
from tools.audit import AuditLog
from tools.catalogue import ToolCall, default_catalogue
from tools.executor import GuardedTools
from tools.inventory import Inventory
from tools.live_world import REFUSED_STATUS, LiveWorld


@pytest.fixture
def network(moto_endpoint):  # noqa: F811
    ec2 = boto3.client("ec2", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.21.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="orders-pg", Description="orders db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                                                         "IpRanges": [{"CidrIp": "10.10.12.0/24"}]}])
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock="10.10.11.0/24", PortRange={"From": 5432, "To": 5432})
    return {"endpoint": moto_endpoint, "vpc": vpc, "subnet": subnet, "group": group, "acl": acl}


def world_for(endpoint: str) -> LiveWorld:
    return LiveWorld(Inventory(), environment="prod", aws_api=True, cloudwatch_endpoint=endpoint, region="ap-northeast-2")


async def test_a_typed_aws_read_runs_as_its_boto3_call_and_parses_like_the_cli(network, tmp_path):
    tools = GuardedTools(world_for(network["endpoint"]), "prod", AuditLog(tmp_path / "audit.jsonl"), "diagnostician", parse=parse_output)
    groups = await tools.call(ToolCall(tool="aws.security_groups", params={"group_ids": [network["group"]]}, host="aws-api"))
    assert groups.result.ok and groups.facts["ok"] and groups.facts["groups"][0]["id"] == network["group"]
    acls = await tools.call(ToolCall(tool="aws.network_acls", params={"filters": [f"Name=vpc-id,Values={network['vpc']}"]}, host="aws-api"))
    assert acls.result.ok and any(rule["action"] == "deny" and rule["rule_number"] == 90
                                  for acl in acls.facts["acls"] for rule in acl["entries"]), acls.facts


async def test_without_a_boto3_form_or_outside_the_catalogue_nothing_is_called(network):
    world = world_for(network["endpoint"])
    refused = await world.run_command("aws-api", ["aws", "ec2", "terminate-instances", "--instance-ids", "i-0123456789abcdef0"], 10)
    assert refused.exit_status == REFUSED_STATUS and "no read-only AWS API form" in refused.error
    # a read spelled another way than the catalogue renders it is refused too: only the rendering runs
    odd = await world.run_command("aws-api", ["aws", "ec2", "describe-security-groups", "--group-ids", network["group"], "--region",
                                              "ap-northeast-2"], 10)
    rendered = default_catalogue().render(ToolCall(tool="aws.security_groups", params={"group_ids": [network["group"]], "region": "ap-northeast-2"})).argv
    assert odd.exit_status == REFUSED_STATUS and rendered != ["aws", "ec2", "describe-security-groups", "--group-ids", network["group"], "--region", "ap-northeast-2"]


async def test_an_api_error_comes_back_as_the_cli_would_print_it(network):
    world = world_for(network["endpoint"])
    argv = default_catalogue().render(ToolCall(tool="aws.security_groups", params={"group_ids": ["sg-0000000000000dead"]})).argv
    missing = await world.run_command("aws-api", argv, 10)
    assert missing.exit_status == 254 and "InvalidGroup.NotFound" in missing.stderr
