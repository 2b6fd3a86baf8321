"""Tokens: who sends a check, and who may read the class's checks.

A token is 32 random bytes (URL-safe base64), handed to its learner once, in the CSV the
instructor writes with ``serve --issue-tokens``; the service stores only its SHA-256, so a copy
of the database gives no one a working token. A request's token is hashed and looked up by
its digest, and the stored digest compared with ``hmac.compare_digest``. Issuing a learner a
new token revokes their old one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from autograder.service.store import Store

LEARNER, INSTRUCTOR = "learner", "instructor"
SCHEME = "token"  # Authorization: token <T>
MAX_TOKEN_CHARS = 200  # a longer header is no token of ours


@dataclass(frozen=True)
class Identity:
    """The holder of a valid token: their student id (or instructor name) and role."""

    learner: str
    role: str


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 of ``token``, hex: what the service stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(store: Store, learner: str, role: str = LEARNER) -> str:
    """A new token for ``learner`` in ``role`` (their earlier one stops working)."""
    token = new_token()
    store.add_token(digest(token), learner, role)
    return token


def token_of(header: str | None) -> str | None:
    """The token of an ``Authorization: token <T>`` header, else None."""
    if not header or len(header) > MAX_TOKEN_CHARS + len(SCHEME) + 1:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != SCHEME or not token:
        return None
    return token


def identify(store: Store, token: str | None) -> Identity | None:
    """Who holds ``token``, or None for no token or an unknown one."""
    if not token:
        return None
    wanted = digest(token)
    found = store.token(wanted)
    if found is None or not hmac.compare_digest(found[0], wanted):
        return None
    return Identity(learner=found[1], role=found[2])
