"""ganzoo plugin (work in progress)."""
