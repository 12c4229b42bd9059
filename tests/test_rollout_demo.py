"""`cloud-doctor rollout demo --json`: what a new user runs to see delivery work, end to end, in a new process."""

import json

import pytest

from tests.cli_helpers import cli
from tools.traffic.local_nginx import find_nginx


@pytest.mark.slow
def test_the_demo_promotes_the_good_version_and_rolls_back_the_faulty_one(tmp_path):
    if find_nginx() is None:
        pytest.skip("nginx is not installed (scripts/install_nginx.sh)")
    data = tmp_path / "data"
    result = cli("rollout", "demo", "--json", data_dir=data, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    body = json.loads(result.stdout)
    rollouts = body["rollouts"]
    assert [(r["version"], r["outcome"], r["verified"]) for r in rollouts] == [("v2", "promoted", True), ("v3", "rolled_back", True)]
    assert [s["name"] for s in rollouts[0]["steps"]] == ["10 %", "50 %", "100 %", "observe at 100 % for 300 s", "promote"]
    assert rollouts[1]["steps"][-1]["name"] == "rollback" and "error_rate" in rollouts[1]["detail"]
    assert body["seconds"] < 60
    listed = json.loads(cli("deployments", "--json", data_dir=data).stdout)
    assert {d["version"]: d["status"] for d in listed["recent"]} == {"v2": "promoted", "v3": "rolled_back"}


def test_without_nginx_the_demo_says_how_to_install_it(tmp_path):
    result = cli("rollout", "demo", data_dir=tmp_path / "data", env={"CLOUD_DOCTOR_NGINX_BIN": str(tmp_path / "no-nginx")},
                 timeout=60)
    assert result.returncode == 2 and "scripts/install_nginx.sh" in result.stderr and "Traceback" not in result.stderr
