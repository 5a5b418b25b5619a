"""Errors, named by what happens next (as in dolma's core/errors.py).

- :class:`ConfigError`: the run cannot start (bad option, invalid taxonomy, missing input). Fail fast.
- :class:`ShardError`: one input file cannot be read at all (not found, not a recognised format, a WAT file).
  The file is reported and the scan moves on to the next one; a named input that is wholly unreadable makes the
  exit status non-zero.
- :class:`RecordError`: one record is bad. It is counted under its reason, one line is logged naming the file
  and record, and reading goes on.
"""

from __future__ import annotations


class TropescanError(Exception):
    """Base class of every error tropescan raises on purpose."""


class ConfigError(TropescanError):
    """The configuration or the command line is invalid: nothing is read."""


class ShardError(TropescanError):
    """One input file cannot be read; the scan goes on with the others."""

    def __init__(self, source: str, reason: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = reason
        self.message = message


class RecordError(TropescanError):
    """One record cannot be read; it is counted under ``reason`` and skipped."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
