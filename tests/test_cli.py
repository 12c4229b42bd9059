"""The CLI door: verdicts without running anything, and one clear line for bad input."""

import json

import pytest

from tests.cli_helpers import cli


def test_guard_json_names_verdict_and_rule(tmp_path):
    result = cli("guard", "ps aux; rm -rf ~", "--env", "prod", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["verdict"] == "forbid" and body["rule"] == "syntax: shell operator"
    result = cli("guard", "systemctl restart api", "--json", data_dir=tmp_path)
    assert json.loads(result.stdout)["verdict"] == "approve"


def test_guard_human_output(tmp_path):
    result = cli("guard", "rm -rf /", data_dir=tmp_path)
    assert "refused: `rm` is forbidden by commands.yaml" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["ask", "hello", "--env", "qa"], "unknown environment 'qa'"),
    (["ask", "hello", "--role", "intern"], "unknown role 'intern'"),
    (["ask", "db down", "--alert", "/nonexistent/alert.json"], "alert file not found"),
    (["replay", "/nonexistent/scenarios"], "no such scenario file or folder"),
    (["approve", "cli-nope", "--as", "bob", "--role", "cto"], "no run with thread id 'cli-nope'"),
    (["guard", "ls", "--env", "qa"], "unknown environment"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = cli(*args, data_dir=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_invalid_alert_json_is_a_clear_error(tmp_path):
    bad = tmp_path / "alert.json"
    bad.write_text('{"alerts": ')
    result = cli("ask", "x", "--alert", str(bad), data_dir=tmp_path)
    assert result.returncode == 2 and "alert.json" in result.stderr and "Traceback" not in result.stderr


def test_runs_on_empty_data_dir(tmp_path):
    result = cli("runs", "--json", data_dir=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout) == []
