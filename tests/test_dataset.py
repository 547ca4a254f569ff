"""engine.dataset: the classic set as specified, the generator, and CSV import validation."""

import numpy as np
import pytest

from engine.dataset import classic, load_dataset, parse_csv, synthetic, to_csv_rows
from engine.evaluate import evaluate
from engine.policy import FEATURES, seed_agent


def test_classic_shape_and_class_balance():
    """20 train (8 accepted, 10 borderline) and 10 test (4 accepted, 4 borderline)."""
    ds = classic()
    assert len(ds.train) == 20 and int(ds.train.y.sum()) == 8
    assert ds.train.difficulty.count("clear") == 10
    assert ds.train.difficulty.count("borderline") == 10
    assert len(ds.test) == 10 and int(ds.test.y.sum()) == 4
    assert ds.test.difficulty.count("clear") == 6
    assert ds.test.difficulty.count("borderline") == 4
    assert len(set(ds.train.ids) | set(ds.test.ids)) == 30
    assert ds.train.X.shape == (20, 5) and ((ds.train.X >= 0) & (ds.train.X <= 1)).all()


def test_seed_agent_scores_13_of_20_on_classic_train():
    """The equal-weight seed gets exactly 13/20 (65%) of the classic training set right."""
    ev = evaluate(seed_agent().task, classic().train)
    assert ev.accuracy == 0.65
    assert ev.n_fp + ev.n_fn == 7


def test_synthetic_is_deterministic_and_validated():
    """Same arguments give the same data; bad sizes or noise are refused."""
    a, b = synthetic(50, 20, 0.1, 3), synthetic(50, 20, 0.1, 3)
    assert np.array_equal(a.train.X, b.train.X) and np.array_equal(a.test.y, b.test.y)
    assert not np.array_equal(synthetic(50, 20, 0.1, 4).train.X, a.train.X)
    assert 0.3 < a.train.y.mean() < 0.7
    with pytest.raises(ValueError, match="noise"):
        synthetic(50, 20, 0.9, 0)
    with pytest.raises(ValueError, match=">= 4"):
        synthetic(2, 20, 0.1, 0)


HEADER = "id,name,split," + ",".join(FEATURES) + ",label"


def _csv(rows, header=HEADER):
    return header + "\n" + "\n".join(rows) + "\n"


GOOD = ["a,A,train,0.9,0.9,0.9,0.9,0.9,accepted", "b,B,train,0.1,0.2,0.1,0.2,0.1,rejected",
        "c,C,test,0.8,0.8,0.8,0.8,0.8,1", "d,D,test,0.2,0.2,0.2,0.2,0.2,0"]


def test_csv_round_trip_of_classic():
    """to_csv_rows then parse_csv gives back the same splits."""
    ds = classic()
    rows = to_csv_rows(ds)
    text = _csv([",".join(str(r[c]) for c in ["id", "name", "split", *FEATURES, "label"])
                 for r in rows])
    back = parse_csv(text)
    assert back.train.ids == ds.train.ids and np.array_equal(back.train.X, ds.train.X)
    assert np.array_equal(back.test.y, ds.test.y)


def test_csv_good_file_parses():
    """A valid file gives the right splits and labels (1/0 and words both accepted)."""
    ds = parse_csv(_csv(GOOD))
    assert ds.train.ids == ("a", "b") and ds.test.y.tolist() == [True, False]


@pytest.mark.parametrize("rows,header,match", [
    (GOOD, "id,name,split," + ",".join(FEATURES[:-1]) + ",label", "missing columns"),
    (GOOD, "id,name,split," + ",".join(FEATURES) + ",label,extra", "unexpected columns"),
    (["a,A,train,x,0.9,0.9,0.9,0.9,accepted", *GOOD[1:]], None, "line 2, column maintainability"),
    (["a,A,train,nan,0.9,0.9,0.9,0.9,accepted", *GOOD[1:]], None, "line 2, column maint"),
    ([*GOOD[:1], "b,B,train,0.1,1.5,0.1,0.2,0.1,rejected", *GOOD[2:]], None,
     "line 3, column security: expected a number in \\[0, 1\\]"),
    ([*GOOD[:3], "d,D,test,0.2,0.2,0.2,0.2,0.2,maybe"], None, "line 5, column label"),
    ([*GOOD[:3], "a,D,test,0.2,0.2,0.2,0.2,0.2,0"], None, "duplicate id 'a'"),
    (GOOD[:2], None, "split 'test' is empty"),
    ([*GOOD[:1], *GOOD[2:]], None, "one accepted and one rejected"),
    ([*GOOD[:3], "d,D,valid,0.2,0.2,0.2,0.2,0.2,0"], None, "column split"),
])
def test_csv_bad_input_names_row_and_column(rows, header, match):
    """Every kind of bad CSV raises ValueError naming the line/column and what was expected."""
    text = _csv(rows) if header is None else _csv(rows, header)
    with pytest.raises(ValueError, match=match):
        parse_csv(text)


def test_csv_empty_and_unknown_spec():
    """An empty file and an unknown dataset spec are refused with the expected forms."""
    with pytest.raises(ValueError, match="header"):
        parse_csv("")
    with pytest.raises(ValueError, match="classic"):
        load_dataset("mnist")
