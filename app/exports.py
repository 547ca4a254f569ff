"""Downloads built on demand (the buttons pass these as callables, so nothing is rendered
until a user clicks).

Public names: metrics_csv.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine.store import Store


def metrics_csv(store: Store, run_id: str | None = None) -> bytes:
    """The store's CSV export (``METRIC_COLUMNS`` + ``run_id``) of one run, or of every run."""
    with tempfile.TemporaryDirectory(prefix="hyperagents-export-") as tmp:
        path = Path(tmp) / "metrics.csv"
        store.export_csv(path, run_id)
        return path.read_bytes()
