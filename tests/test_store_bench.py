"""engine.store_bench: the store figures that `python -m engine bench` merges."""

import tempfile
from pathlib import Path

from engine.store_bench import bench_figures


def test_bench_figures_time_a_persisted_run_and_clean_up(monkeypatch, tmp_path):
    """bench_figures returns positive seconds, the ratio of its two runs, and leaves no file."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    fig = bench_figures(quick=True, iterations=60)
    assert set(fig) == {"run_1k_store_s", "run_1k_mem_s", "store_overhead_x", "load_run_1k_s"}
    assert all(v > 0 for v in fig.values())
    assert abs(fig["store_overhead_x"] - fig["run_1k_store_s"] / fig["run_1k_mem_s"]) < 0.05
    assert list(Path(tmp_path).iterdir()) == []

