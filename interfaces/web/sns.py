"""Amazon SNS HTTP(S) messages: signature verification and subscription confirmation.

An SNS message is taken only when (1) its topic is one the operator listed,
(2) its signing certificate comes from AWS's SNS hosts (a pattern in
config/web.yaml), (3) its signature over the canonical string verifies with
that certificate (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA), and
(4) it is not older than `max_age_s`. A valid signature alone proves only
that SNS sent it, not that it is our topic: anyone can subscribe their own
topic to a public endpoint, hence (1).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from typing import Literal

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from pydantic import BaseModel, ConfigDict, Field

from graphs.errors import UserInputError
from interfaces.web.auth import RoleError
from interfaces.web.config import SnsIntake

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
SUBSCRIPTION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


class SnsMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str = Field(max_length=200)
    TopicArn: str = Field(max_length=400)
    Message: str
    Timestamp: str = Field(max_length=64)
    SignatureVersion: Literal["1", "2"]
    Signature: str = Field(max_length=4096)
    SigningCertURL: str = Field(max_length=2048)
    Subject: str | None = Field(default=None, max_length=400)
    SubscribeURL: str | None = Field(default=None, max_length=2048)
    Token: str | None = Field(default=None, max_length=2048)

    def string_to_sign(self) -> bytes:
        keys = NOTIFICATION_KEYS if self.Type == "Notification" else SUBSCRIPTION_KEYS
        parts: list[str] = []
        for key in keys:
            value = getattr(self, key)
            if value is None:
                continue  # Subject is signed only when present
            parts += [key, str(value)]
        return ("\n".join(parts) + "\n").encode("utf-8")


class SnsRefused(RoleError):
    """Not a message we take: wrong topic, a certificate from elsewhere, a bad signature (HTTP 403)."""


class SnsVerifier:
    def __init__(self, config: SnsIntake, http: httpx.AsyncClient | None = None):
        self.config = config
        self._certs: dict[str, x509.Certificate] = {}
        self._http = http

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def verify(self, message: SnsMessage, now: datetime | None = None) -> None:
        if message.TopicArn not in self.config.topics:
            raise SnsRefused(f"topic {message.TopicArn} is not in config/web.yaml alerts.sns.topics")
        if not re.match(self.config.certificate_url, message.SigningCertURL):
            raise SnsRefused("the signing certificate does not come from an SNS host (alerts.sns.certificate_url)")
        try:
            sent = datetime.fromisoformat(message.Timestamp.replace("Z", "+00:00"))
        except ValueError:
            raise UserInputError(f"Timestamp {message.Timestamp!r} is not an ISO time") from None
        age = ((now or datetime.now(timezone.utc)) - sent).total_seconds()
        if age > self.config.max_age_s:
            raise SnsRefused(f"the message is {age:.0f} s old; older than {self.config.max_age_s:.0f} s is refused")
        certificate = await self._certificate(message.SigningCertURL)
        digest = hashes.SHA1() if message.SignatureVersion == "1" else hashes.SHA256()
        try:
            signature = base64.b64decode(message.Signature, validate=True)
            certificate.public_key().verify(signature, message.string_to_sign(), padding.PKCS1v15(), digest)  # type: ignore[call-arg, union-attr]
        except (InvalidSignature, ValueError):
            raise SnsRefused("the SNS signature does not verify") from None

    async def _certificate(self, url: str) -> x509.Certificate:
        cached = self._certs.get(url)
        if cached is not None:
            return cached
        try:
            response = await self._client().get(url)
            response.raise_for_status()
            certificate = x509.load_pem_x509_certificate(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise SnsRefused(f"could not read the signing certificate: {type(exc).__name__}") from None
        self._certs[url] = certificate
        return certificate

    async def confirm(self, message: SnsMessage) -> None:
        """Visit SubscribeURL (only an SNS host's) so the topic starts delivering here."""
        url = message.SubscribeURL or ""
        if not re.match(self.config.subscribe_url, url):
            raise SnsRefused("SubscribeURL is not an SNS confirmation address (alerts.sns.subscribe_url)")
        try:
            response = await self._client().get(url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise UserInputError(f"confirming the subscription failed: {type(exc).__name__}") from None
