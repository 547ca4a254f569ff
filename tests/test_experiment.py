"""engine.experiment: tidy output, validation, and parallel == serial."""

import threading

import pandas as pd
import pytest

from engine.dataset import classic
from engine.experiment import run_experiment
from engine.run import METRIC_COLUMNS


def test_tidy_frame_shape_and_order():
    """conditions x seeds x (iterations + 1) rows, in condition, seed, iteration order."""
    calls = []
    df = run_experiment(["baseline", "hyperagent"], [3, 1], 7, classic(), workers=1,
                        progress=lambda d, t: calls.append((d, t)))
    assert list(df.columns) == list(METRIC_COLUMNS) and len(df) == 2 * 2 * 8
    assert df["condition"].unique().tolist() == ["baseline", "hyperagent"]
    assert df[df.condition == "baseline"]["seed"].unique().tolist() == [3, 1]
    assert calls[-1] == (4, 4)


def test_bad_arguments_are_refused():
    """Unknown conditions, no seeds and zero iterations raise ValueError."""
    with pytest.raises(ValueError, match="unknown condition"):
        run_experiment(["nope"], 1, 5)
    with pytest.raises(ValueError, match="at least one"):
        run_experiment(["baseline"], [], 5)
    with pytest.raises(ValueError, match="iterations"):
        run_experiment(["baseline"], 1, 0)


def test_parallel_equals_serial_even_from_a_thread():
    """Worker processes (spawn) started from a non-main thread give the serial result."""
    serial = run_experiment(None, 2, 15, "classic", workers=1)
    out = {}

    def work():
        out["df"] = run_experiment(None, 2, 15, "classic", workers=2)

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=120)
    pd.testing.assert_frame_equal(serial, out["df"], check_exact=True)
