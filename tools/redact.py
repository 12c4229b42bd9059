"""Secret redaction: the last thing text passes before an LLM, a log line or a channel.

Patterns match secrets by shape (AWS key ids, PEM blocks, tokens, credentials
inside URLs and DSNs, `password=` style assignments). Redaction keeps the
surrounding text so an operator can still see *that* a secret was there.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    # PEM private keys, whole block.
    ("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)", re.S),
     "-----BEGIN PRIVATE KEY-----" + MASK + "-----END PRIVATE KEY-----"),
    # AWS access key ids and session-key ids.
    ("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), MASK),
    # AWS secret access keys next to their usual names.
    ("aws_secret_access_key", re.compile(
        r"(?i)(aws_secret_access_key|secret_access_key|aws_secret|secretaccesskey)(\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}"),
     r"\1\2" + MASK),
    # Slack tokens and webhooks.
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MASK),
    ("slack_webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"), "https://hooks.slack.com/services/" + MASK),
    # GitHub / generic bearer tokens.
    ("github_token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"), MASK),
    ("bearer", re.compile(r"(?i)\b(bearer|token)(\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1\2" + MASK),
    ("authorization_header", re.compile(r"(?i)(authorization\s*[:=]\s*)(?!bearer\b|token\b)(basic\s+)?[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + MASK),
    # Credentials inside URLs and DSNs: scheme://user:password@host
    ("url_password", re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}://[^/\s:@'\"]{1,128}:)([^@\s'\"/]{1,256})(@)"), r"\1" + MASK + r"\3"),
    # password=..., passwd: ..., PGPASSWORD=..., "password": "..."
    ("password_assignment", re.compile(
        r"(?i)([\"']?\b[A-Za-z_]*(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret)[A-Za-z_]*\b[\"']?\s*[:=]\s*)"
        r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)"),
     r"\1" + MASK),
    # mysql -pSECRET (password glued to -p)
    ("mysql_p_flag", re.compile(r"(\bmysql(?:dump|admin)?\b[^\n]*?\s-p)(?!\s)([^\s]+)"), r"\1" + MASK),
    # JSON web tokens.
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
]


def redact(text: str) -> str:
    """Return `text` with every secret-shaped span masked."""
    if not text:
        return text
    for _, pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def find_secrets(text: str) -> list[str]:
    """Names of the secret kinds present in `text` (for tests and audit notes)."""
    return [name for name, pattern, _ in _PATTERNS if pattern.search(text or "")]


def redact_obj(value):
    """Redact every string inside nested dicts/lists (for payloads sent to an LLM)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_obj(v) for v in value)
    return value
