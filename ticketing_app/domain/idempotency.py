"""Idempotency keys, the pure part: what a valid key is, and the fingerprint that tells "the
same request again" from "another request with the same key" (Stripe's semantics, the IETF
Idempotency-Key draft). Storing claims and answers is `services/idempotency.py`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ticketing_app.domain import errors

MAX_KEY_LENGTH = 200


def request_fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str | None) -> str:
    if not key:
        raise errors.BadRequest(
            "The Idempotency-Key header is required.",
            [{"field": "Idempotency-Key", "message": "missing header"}],
        )
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise errors.BadRequest(
            "The Idempotency-Key header is invalid.",
            [{"field": "Idempotency-Key", "message": f"1-{MAX_KEY_LENGTH} printable characters"}],
        )
    return key
