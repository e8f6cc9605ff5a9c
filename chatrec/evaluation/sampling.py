"""A seeded sample of users, so evaluation on large data costs a bounded amount."""

from __future__ import annotations

import numpy as np


def sample_users(users: list[str], max_users: int | None, seed: int) -> list[str]:
    """All `users` when there are at most `max_users` (or no limit); else a seeded sample, in input order."""
    if max_users is None or len(users) <= max_users:
        return users
    chosen = np.random.default_rng(seed).choice(len(users), size=max_users, replace=False)
    return [users[i] for i in np.sort(chosen)]
