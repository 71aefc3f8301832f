"""Webhook requests signed the way each provider documents it, built here without our code or its libraries.

Provider A (Resend, Standard Webhooks / Svix): HMAC-SHA256 keyed with the base64-decoded part of the `whsec_`
secret, over `{svix-id}.{svix-timestamp}.{body}`, sent as `v1,<base64>` in `svix-signature`.
Provider B (SendGrid Signed Event Webhook): ECDSA P-256 / SHA-256 over the timestamp's bytes then the body,
the DER signature in base64; the verification key is the public key's DER (SubjectPublicKeyInfo) in base64.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

RESEND_SECRET = "whsec_" + base64.b64encode(b"opbox-test-signing-secret-32byte").decode()
OTHER_RESEND_SECRET = "whsec_" + base64.b64encode(b"someone-elses-signing-secret-32b").decode()


def resend_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def resend_headers(secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None, extra_signatures=()):
    """The Django test client's META for a signed Resend delivery (HTTP_SVIX_ID, ...)."""
    msg_id = msg_id or f"msg_{secrets.token_hex(8)}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    signatures = [*extra_signatures, resend_signature(secret, msg_id, timestamp, body)]
    return {"HTTP_SVIX_ID": msg_id, "HTTP_SVIX_TIMESTAMP": str(timestamp), "HTTP_SVIX_SIGNATURE": " ".join(signatures)}


def resend_event(kind: str, email_id: str, to=("ada@example.com",), **data) -> bytes:
    payload = {
        "type": kind,
        "created_at": "2026-11-25T10:00:00.000Z",
        "data": {"email_id": email_id, "from": "Acme <noreply@acme.example>", "to": list(to), "subject": "Hi", **data},
    }
    return json.dumps(payload).encode()


class SendGridSigner:
    """An EC P-256 key pair made for the test, as SendGrid keeps one per account."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.verification_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict:
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
            "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
        }


def sendgrid_event(event: str, sg_event_id: str, *, email="ada@example.com", message_id="", row_id="", timestamp=1_795_000_000, **fields):
    """One SendGrid event; `message_id` becomes sg_message_id (with a filter suffix), `row_id` our custom arg."""
    item = {"email": email, "timestamp": timestamp, "event": event, "sg_event_id": sg_event_id, **fields}
    if message_id:
        item["sg_message_id"] = f"{message_id}.filterdrecv-5645d9c87f-abcde-1-5F5FC76C-9.0"
    if row_id:
        item["opbox_email_id"] = row_id
    return item


def as_body(events) -> bytes:
    return json.dumps(events).encode()
