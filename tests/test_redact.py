"""Secrets are masked by shape before any LLM call, log line or report — one test per kind."""

import pytest

from tools.redact import MASK, find_secrets, redact, redact_obj

CASES = [
    ("detect-secrets:AWSKeyDetector", "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("password_assignment", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("url_password", "DATABASE_URL=postgresql://shop:Sup3rS3cret@db.internal:5432/shop", "Sup3rS3cret"),
    ("url_password", "connecting to mysql://app:hunter2@10.0.3.14:3306/orders failed", "hunter2"),
    ("password_assignment", "spring.datasource.password=ChangeMe123!", "ChangeMe123!"),
    ("password_assignment", '{"db_password": "p@ss w0rd"}', "p@ss w0rd"),
    ("password_assignment", "PGPASSWORD=s3cr3t psql -h db", "s3cr3t"),
    ("bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("bearer", "curl -H 'token abcdef0123456789abcdef0123456789' https://api", "abcdef0123456789abcdef0123456789"),
    ("slack_token", "SLACK_BOT_TOKEN=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"),
    ("slack_webhook", "posting to https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000/XXXXXXXX"),
    ("github_token", "GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    ("mysql_p_flag", "ran: mysql -uroot -pRootPw99 -e 'SHOW PROCESSLIST'", "RootPw99"),
]


@pytest.mark.parametrize("kind,text,secret", CASES)
def test_each_kind_is_redacted(kind, text, secret):
    out = redact(text)
    assert secret not in out
    assert MASK in out
    assert kind in find_secrets(text)


def test_context_survives_redaction():
    out = redact("ERROR Pool exhausted: mysql://app:hunter2@db1:3306/shop timeout acquiring connection after 30000ms")
    assert out.startswith("ERROR Pool exhausted: mysql://app:") and "timeout acquiring connection after 30000ms" in out


def test_plain_operational_text_is_untouched():
    text = "web2 Mem: 7821 7390 112; node invoked oom-killer; df / 84%; ip-10-0-1-23 Ready"
    assert redact(text) == text


def test_nested_payloads_are_redacted():
    payload = {"logs": ["token abcdef0123456789abcdef0123456789"], "env": {"AWS": "AKIAIOSFODNN7EXAMPLE"}}
    out = redact_obj(payload)
    assert "AKIAIOSFODNN7EXAMPLE" not in str(out) and "abcdef0123456789abcdef0123456789" not in str(out)
