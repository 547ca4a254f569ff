"""Work started ahead of need, in one background thread shared by every session.

The reference lines (``engine.reference.references``: majority class, seed agent, and the
ceiling, which solves a mixed-integer program) take up to a second the first time a dataset
is seen. The Overview and Ablation pages ask for them as soon as a dataset is chosen, so the
result is usually ready when a run finishes and a click is not kept waiting.

Public names: MAX_KEPT, dataset_key, references, warm.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from engine.dataset import Dataset

MAX_KEPT = 32
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hyperagents-prefetch")
_FUTURES: OrderedDict[str, Future] = OrderedDict()
_LOCK = threading.Lock()


def dataset_key(ds: Dataset) -> str:
    """A key that changes with the dataset's name, features and labels."""
    h = hashlib.sha1(ds.name.encode())
    for split in (ds.train, ds.test):
        h.update(split.X.tobytes())
        h.update(split.y.tobytes())
        h.update("\0".join(split.ids).encode())
    return h.hexdigest()


def _compute(ds: Dataset) -> dict[str, tuple[float, float, bool]]:
    from engine.reference import references as compute

    return {r.name: (r.train, r.test, r.exact) for r in compute(ds)}


def references(ds: Dataset) -> Future:
    """A future of ``{name: (train, test, exact)}`` for ``ds`` (started now, or earlier);
    the last ``MAX_KEPT`` datasets are kept."""
    key = dataset_key(ds)
    with _LOCK:
        fut = _FUTURES.get(key)
        if fut is not None and not (fut.done() and fut.exception() is not None):
            _FUTURES.move_to_end(key)
            return fut
        fut = _EXECUTOR.submit(_compute, ds)
        _FUTURES[key] = fut
        while len(_FUTURES) > MAX_KEPT:
            _FUTURES.popitem(last=False)
        return fut


_WARMED: set[str] = set()


def warm(module: str) -> None:
    """Import ``module`` in the background (once per process), so a later click does not
    wait for a slow first import."""
    with _LOCK:
        if module in _WARMED:
            return
        _WARMED.add(module)
    _EXECUTOR.submit(importlib.import_module, module)
