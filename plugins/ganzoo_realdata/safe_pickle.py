"""Reading the StackGAN pickles without letting them run code.

The StackGAN data ships its file lists, class ids and caption embeddings as Python 2
pickles. A pickle can name any importable callable and have the loader call it, so a
tampered file could run arbitrary code on ``pickle.load``. :class:`RestrictedUnpickler`
resolves only the handful of globals that plain lists, strings, ints and numpy arrays
need; any other global is refused *before* anything is called, and the error names
the file and the refused global.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.errors import UsageError


class PickleLoadError(UsageError):
    """A data pickle could not be read (damaged, truncated, or not a pickle)."""

    exit_code = 1


class UnsafePickleError(PickleLoadError):
    """The pickle names a global outside the allow-list; nothing it names was called."""


def _numpy_functions():
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
        from numpy._core.numeric import _frombuffer
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
        from numpy.core.numeric import _frombuffer
    return _reconstruct, scalar, _frombuffer


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes; only Latin-1 is allowed."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode allowed only for latin1 text, got encoding {encoding!r}")
    return text.encode("latin1")


_reconstruct, _scalar, _frombuffer = _numpy_functions()

_NUMPY_GLOBALS = {"_reconstruct": _reconstruct, "scalar": _scalar}
_BUILTINS = {name: getattr(__import__("builtins"), name)
             for name in ("list", "dict", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                          "int", "float", "complex", "bool")}

#: (module, name) -> object. Both numpy module spellings appear: Python 2 / numpy 1 files
#: say ``numpy.core.multiarray``, files written by numpy 2 say ``numpy._core.multiarray``.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{(mod, name): obj for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, obj in _NUMPY_GLOBALS.items()},
    # protocol 5 pickles of arrays (numpy >= 1.16): array from a raw buffer, dtype and shape
    **{(mod, "_frombuffer"): _frombuffer for mod in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    **{(mod, name): obj for mod in ("builtins", "__builtin__") for name, obj in _BUILTINS.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` (never imports anything)."""

    def __init__(self, file, *, source: str = "<pickle>"):
        super().__init__(file, encoding="latin1")  # Python 2 str -> str, numpy buffers decode as Latin-1
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {self.source}: it references the global {module}.{name}, which is "
                f"not a plain list/str/int/numpy array; the file may have been tampered with") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refused to load {self.source}: it uses persistent ids")


def loads(data: bytes, source: str = "<pickle>") -> Any:
    return _load(io.BytesIO(data), source)


def load_pickle(path: str | Path) -> Any:
    """Load a (Python 2 or 3) pickle of plain data; refuse anything that could run code."""
    path = Path(path)
    with open(path, "rb") as fh:
        return _load(fh, str(path))


def _load(fh, source: str) -> Any:
    try:
        return RestrictedUnpickler(fh, source=source).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated / not a pickle / bad numpy state
        raise PickleLoadError(f"cannot read {source} as a pickle: {type(exc).__name__}: {exc}") from None
