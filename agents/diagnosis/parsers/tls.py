"""openssl x509 / s_client and certbot certificates: when certificates expire and whether they verify."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError

_OPENSSL_DATE = "%b %d %H:%M:%S %Y %Z"


def _openssl_time(value: str) -> datetime | None:
    value = re.sub(r"\s+", " ", value.strip())
    for fmt in (_OPENSSL_DATE, "%b %d %H:%M:%S %Y", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(value.replace("GMT", "UTC") if "%Z" in fmt else value, fmt)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


class Certificate(BaseModel):
    name: str = ""
    subject: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    invalid_reason: str = ""  # certbot's "INVALID: EXPIRED"
    path: str = ""  # certbot's "Certificate Path"


class TlsFacts(Facts):
    parser: str = "tls"
    certificates: list[Certificate] = []
    verify_code: int | None = None
    verify_message: str = ""
    errors: list[str] = []

    def expired_at(self, now: datetime) -> list[Certificate]:
        return [c for c in self.certificates if (c.not_after is not None and c.not_after <= now) or "EXPIRED" in c.invalid_reason.upper()]

    def summary(self) -> str:
        parts = []
        for c in self.certificates[:3]:
            parts.append(f"{c.name or c.subject or 'certificate'} valid until {c.not_after.isoformat() if c.not_after else '?'}" + (f" ({c.invalid_reason})" if c.invalid_reason else ""))
        if self.verify_code is not None:
            parts.append(f"verify return code {self.verify_code} ({self.verify_message})")
        parts += self.errors[:2]
        return "tls: " + ("; ".join(parts) if parts else "nothing found")


def parse_tls(text: str, *, command: str = "", stderr: str = "") -> TlsFacts:
    body = (text or "") + "\n" + (stderr or "")
    certs: list[Certificate] = []
    subject = re.search(r"^subject\s*=\s*(.+)$", body, re.M)
    not_before = re.search(r"notBefore\s*[=:]\s*(.+?)(?:;|$)", body, re.M | re.I)
    for m in re.finditer(r"notAfter\s*[=:]\s*(.+?)(?:;|$)", body, re.M | re.I):
        certs.append(Certificate(subject=subject.group(1).strip() if subject else "", not_after=_openssl_time(m.group(1)),
                                 not_before=_openssl_time(not_before.group(1)) if not_before else None))
    for block in re.finditer(r"Certificate Name:\s*(\S+)(.*?)(?=Certificate Name:|\Z)", body, re.S):
        expiry = re.search(r"Expiry Date:\s*([\d-]+ [\d:]+(?:[+-]\d{2}:\d{2})?)\s*(?:\(([^)]*)\))?", block.group(2))
        if expiry:
            when = None
            try:
                when = datetime.fromisoformat(expiry.group(1).strip())
                when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
            except ValueError:
                pass
            path = re.search(r"Certificate Path:\s*(/\S+)", block.group(2))
            certs.append(Certificate(name=block.group(1), not_after=when, invalid_reason=(expiry.group(2) or "") if "INVALID" in (expiry.group(2) or "") else "",
                                     path=path.group(1) if path else ""))
    verify = re.search(r"Verify return code:\s*(\d+)\s*\(([^)]*)\)", body) or re.search(r"verify error:num=(\d+):(.+)", body)
    errors = [e.strip()[:200] for e in re.findall(r"(?:^|:)((?:[^:\n]*)(?:certificate (?:has )?expired|certificate verify failed|unable to get local issuer certificate|hostname mismatch|self[- ]signed certificate)[^\n]*)", body, re.I)]
    if not certs and verify is None and not errors:
        raise ParserError("no notAfter date, no verify result, no certbot listing")
    return TlsFacts(certificates=certs, verify_code=int(verify.group(1)) if verify else None,
                    verify_message=verify.group(2).strip() if verify else "", errors=errors[:5])
