"""The one error the data layer raises: data that cannot be used, with one sentence saying why.

A leaf module: `datasets` imports nothing from `lstm_core` (the engine depends on its data, never the other way
round); `lstm_core.errors` re-exports `DataError` so that engine code finds every error in one place.
"""

from __future__ import annotations


class DataError(ValueError):
    """Task data cannot be used (an unreadable corpus, a series too short); the message says why."""
