"""Secrets known by their shape where the detector misses them or matches only part.

Each rule names the literal words (lower case) that must be in a line before it
runs. The detect-secrets plugins cover most provider formats; these are the
ones measured to leak without a rule of our own: AWS session tokens and the
secret after an access key id (s3fs's `AKIA…:secret`), whole Stripe keys (the
plugin matches 24 of up to 99 characters), Slack app tokens and workflow
webhooks, npm tokens outside .npmrc, GitHub tokens of other lengths, OpenAI /
Anthropic / Google / Vault tokens, credentials inside URLs with an empty user
(`redis://:pw@host`), Oracle's `user/password@`, Basic credentials and bearer
tokens without a header name, and openssl's `pass:`.
"""

from __future__ import annotations

import re

from tools.redaction.names import basic_credentials
from tools.redaction.spans import ShapeRule


def _has_digit_and_letter(m: re.Match[str]) -> bool:
    value = m.group(1)
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


SHAPES: tuple[ShapeRule, ...] = (
    ShapeRule("aws_secret_after_key_id", re.compile(
        r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\s*[:|,;/\s]\s*([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"), ("akia", "asia"), (1,)),
    ShapeRule("aws_session_token", re.compile(
        r"(?<![A-Za-z0-9/+])(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2lu)[A-Za-z0-9/+=]{20,}"),
        ("iqojb3jpz2lu", "fwogzxivyxdz", "fqogzxivyxdz", "agojb3jpz2lu")),
    ShapeRule("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}"), ("sk_live", "rk_live", "sk_test", "rk_test")),
    ShapeRule("stripe_webhook_secret", re.compile(r"\bwhsec_[0-9A-Za-z]{16,}"), ("whsec_",)),
    ShapeRule("slack_token", re.compile(r"\bxox(?:[abposre]|e\.xox[bp])-[0-9A-Za-z-]{8,}"), ("xox",)),
    ShapeRule("slack_app_token", re.compile(r"\bxapp-[0-9A-Za-z-]{10,}"), ("xapp-",)),
    ShapeRule("slack_webhook", re.compile(r"https://hooks\.slack\.com/(?:services|triggers|workflows)/([A-Za-z0-9/_-]+)"),
              ("hooks.slack",), (1,)),
    ShapeRule("github_token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{22,}"),
              ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    ShapeRule("gitlab_token", re.compile(r"\bgl(?:pat|dt|rt|ptt|ft|soat|oas|imt|cbt|agent)-[A-Za-z0-9_-]{20,}"),
              ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "gloas-", "glimt-", "glcbt-", "glagent-")),
    ShapeRule("npm_token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), ("npm_",)),
    ShapeRule("pypi_token", re.compile(r"\bpypi-[A-Za-z0-9_-]{50,}"), ("pypi-",)),
    ShapeRule("openai_anthropic_key", re.compile(r"\bsk-(?:proj-|ant-[a-z]+\d*-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}"), ("sk-",)),
    ShapeRule("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), ("aiza",)),
    ShapeRule("google_oauth_token", re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"), ("ya29.",)),
    ShapeRule("sendgrid_key", re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"), ("sg.",)),
    ShapeRule("vault_token", re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}"), ("hvs.", "hvb.", "hvr.")),
    ShapeRule("url_password", re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/@'\"<>]*:([^\s@'\"/<>]+)@"), ("://",), (1,)),
    ShapeRule("oracle_password", re.compile(r"(?i)jdbc:oracle:[a-z]+:[^\s/@:]+/([^\s@'\"]+)@"), ("jdbc:oracle",), (1,)),
    ShapeRule("bearer", re.compile(r"\b(?:[Bb]earer|BEARER)\s+([A-Za-z0-9._~+/=-]{12,})"), ("bearer",), (1,), _has_digit_and_letter),
    ShapeRule("bearer", re.compile(r"\btoken\s+([A-Za-z0-9._~+/=-]{16,})"), ("token",), (1,), _has_digit_and_letter),
    ShapeRule("basic_credentials", re.compile(r"\b(?:Basic|BASIC|basic)\s+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])"), ("basic",), (1,),
              lambda m: basic_credentials(m.group(1))),
    ShapeRule("openssl_pass", re.compile(r"(?<![\w-])-(?:passin|passout|pass|k)\s+pass:(\S+)"), ("pass:",), (1,)),
    ShapeRule("netrc_password", re.compile(r"\blogin\s+\S+\s+(?:password|passwd)\s+(\S+)"), ("password", "passwd"), (1,)),
    ShapeRule("redis_auth", re.compile(r"(?:^|[>\s])AUTH\s+(?:\S+\s+)?(\S+)\s*$"), ("auth",), (1,),
              lambda m: not m.group(1).endswith(":") and m.group(1).lower() not in {"failed", "ok", "error", "required"}),
)
