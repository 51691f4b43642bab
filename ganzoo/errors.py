"""User-facing errors: each becomes one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import difflib
from typing import Iterable


class GanzooError(Exception):
    """An error caused by the user's input or environment; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(GanzooError):
    """Bad names, keys or values given by the user (exit 2, like click's own usage errors)."""

    exit_code = 2


class UnknownNameError(UsageError):
    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(valid) or '(none installed)'}")
        self.kind, self.name, self.valid = kind, name, valid


def nearest(name: str, valid: Iterable[str]) -> str | None:
    """The closest valid spelling of `name`, if any is close enough to suggest."""
    found = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return found[0] if found else None


class UnknownKeyError(UsageError):
    def __init__(self, what: str, key: str, valid: Iterable[str]):
        valid = list(valid)
        hint = nearest(key, valid)
        msg = f"unknown config key {key!r} for {what}"
        msg += f"; did you mean {hint!r}?" if hint else f"; valid keys: {', '.join(sorted(valid))}"
        super().__init__(msg)
        self.key, self.suggestion = key, hint
