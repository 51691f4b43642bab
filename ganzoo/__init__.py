"""ganzoo: a plugin-based benchmarking suite for text-to-image GANs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ganzoo")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

from ganzoo.hookspecs import hookimpl  # noqa: E402  (the decorator plugins use)

__all__ += ["hookimpl"]
