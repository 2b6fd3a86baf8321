"""The grading service's settings: how large, how often, how many."""

from __future__ import annotations

from dataclasses import dataclass

from autograder.settings import Limits


@dataclass(frozen=True)
class ServiceConfig:
    """What one learner and the whole class may send, and how many checks may wait."""

    max_notebook_bytes: int = Limits().max_notebook_bytes  # a larger upload is refused (413)
    max_active: int = 1  # checks of one learner queued or running at once (else 429)
    checks_per_hour: int = 30  # checks one learner may send in any hour (else 429)
    queue_limit: int = 500  # checks queued for the whole class (else 503: try later)
    body_timeout: float = 120.0  # seconds an upload may take (a slow sender is cut off)
    history: int = 50  # checks listed by GET /api/checks
