"""Every error the engine raises on purpose, in one leaf module: each message is one sentence a learner can act
on (what is wrong, what is allowed). The UI shows it with `st.error`; the command line prints it and exits 2.

`DataError` is the data layer's (`datasets.errors`), re-exported here so engine code imports errors from one place.
"""

from __future__ import annotations

from datasets.errors import DataError


class ConfigError(ValueError):
    """A setting is out of bounds; the message names the setting, the value and what is allowed."""


class LimitError(ConfigError):
    """A setting is within bounds but would cost one session too much (work per training step)."""


class RunError(ValueError):
    """A run folder, archive or checkpoint cannot be used; the message says why."""


class DivergedError(RuntimeError):
    """The loss or the gradient became NaN or infinite; the model keeps its last good weights."""


class WorkerError(RuntimeError):
    """Something failed in a worker process; the message is one sentence (never a traceback)."""


class RunGone(LookupError):
    """A worker does not hold the run asked for (it was restarted, or evicted the run): the coordinator reopens it."""


class ExportError(RuntimeError):
    """A file cannot be produced here (e.g. PNG without a browser); the message says why and what to do."""


__all__ = ["ConfigError", "DataError", "DivergedError", "ExportError", "LimitError", "RunError", "RunGone",
           "WorkerError"]
