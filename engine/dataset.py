"""Datasets of labelled repositories: the classic 30-repository set, a generated benchmark,
and CSV import.

A ``Split`` holds ``X`` of shape (n, 5) with the features in ``FEATURES`` order (each in [0, 1]),
``y`` of shape (n,) (True = accepted), and per-row ids, names and difficulty tags. A ``Dataset``
is a train split (the only one selection and mutation may read) and a held-out test split.

Public names: FEATURES, Split, Dataset, classic, synthetic, load_csv, parse_csv, to_csv_rows,
load_dataset, CSV_COLUMNS, DATASET_CHOICES.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.policy import FEATURES, N_FEATURES

CSV_COLUMNS: tuple[str, ...] = ("id", "name", "split", *FEATURES, "label")
_LABELS = {"accepted": True, "1": True, "rejected": False, "0": False}
DATASET_CHOICES = ("classic", "synthetic")


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset.

    Attributes:
        ids: (n,) unique repository ids.
        names: (n,) display names.
        X: (n, 5) float64 features in [0, 1], columns in ``FEATURES`` order.
        y: (n,) bool labels, True = accepted.
        difficulty: (n,) ``clear`` / ``borderline`` / ``unknown``.
    """

    ids: tuple[str, ...]
    names: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    difficulty: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def pos_mean(self) -> np.ndarray:
        """(5,) mean features of the accepted repositories."""
        return self.X[self.y].mean(axis=0)

    @cached_property
    def neg_mean(self) -> np.ndarray:
        """(5,) mean features of the rejected repositories."""
        return self.X[~self.y].mean(axis=0)

    @cached_property
    def X1(self) -> np.ndarray:
        """(n, 6) ``X`` with a column of ones (feature sums and counts in one product)."""
        return np.hstack([self.X, np.ones((len(self.X), 1))])

    @cached_property
    def class_means(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``pos_mean`` and ``neg_mean`` as tuples of floats (for the mutation's hot path)."""
        return tuple(self.pos_mean.tolist()), tuple(self.neg_mean.tolist())

    @cached_property
    def sign(self) -> np.ndarray:
        """(n,) +1.0 for accepted rows, -1.0 for rejected ones."""
        return np.where(self.y, 1.0, -1.0)

    @cached_property
    def id_array(self) -> np.ndarray:
        """(n,) the ids as a numpy array (for fast masked lookups)."""
        return np.array(self.ids, dtype=object)

    def with_labels(self, y: np.ndarray) -> Split:
        return Split(self.ids, self.names, self.X, np.asarray(y, dtype=bool), self.difficulty)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A named pair of splits. Only ``train`` may influence the search."""

    name: str
    train: Split
    test: Split
    description: str = ""


def _split(rows: list[tuple]) -> Split:
    ids, names, feats, labels, diff = zip(*rows)
    X = np.asarray(feats, dtype=np.float64).reshape(len(rows), N_FEATURES)
    return Split(tuple(ids), tuple(names), X, np.asarray(labels, dtype=bool), tuple(diff))


# (id, name, (maintainability, security, test_coverage, documentation, simplicity), accepted,
#  difficulty). The borderline cases are built so that the equal-weight seed agent is fooled:
# accepted repositories that are secure and well tested but thinly documented and complex score
# below 0.6, rejected ones that are tidy and documented but insecure and untested score above.
_CLASSIC_TRAIN = [
    ("tr01", "fastqueue", (0.82, 0.85, 0.80, 0.78, 0.80), True, "clear"),
    ("tr02", "pydantic-lite", (0.88, 0.80, 0.90, 0.85, 0.75), True, "clear"),
    ("tr03", "httpkit", (0.78, 0.90, 0.85, 0.72, 0.82), True, "clear"),
    ("tr04", "cachetools-x", (0.85, 0.78, 0.82, 0.88, 0.86), True, "clear"),
    ("tr05", "legacy-billing", (0.25, 0.30, 0.15, 0.20, 0.30), False, "clear"),
    ("tr06", "quickhack", (0.30, 0.20, 0.05, 0.15, 0.45), False, "clear"),
    ("tr07", "monolith-2012", (0.20, 0.35, 0.25, 0.30, 0.15), False, "clear"),
    ("tr08", "copy-paste-cms", (0.15, 0.25, 0.10, 0.35, 0.25), False, "clear"),
    ("tr09", "abandoned-sdk", (0.35, 0.15, 0.20, 0.25, 0.35), False, "clear"),
    ("tr10", "script-dump", (0.28, 0.22, 0.08, 0.10, 0.40), False, "clear"),
    ("tr11", "crypto-core", (0.60, 0.85, 0.80, 0.30, 0.35), True, "borderline"),
    ("tr12", "kernel-shim", (0.55, 0.80, 0.85, 0.35, 0.30), True, "borderline"),
    ("tr13", "auth-gateway", (0.50, 0.90, 0.75, 0.25, 0.40), True, "borderline"),
    ("tr14", "db-migrator", (0.65, 0.80, 0.80, 0.40, 0.45), True, "borderline"),
    ("tr15", "pretty-dashboard", (0.75, 0.35, 0.40, 0.85, 0.80), False, "borderline"),
    ("tr16", "shiny-docs-site", (0.70, 0.40, 0.35, 0.90, 0.75), False, "borderline"),
    ("tr17", "tidy-but-unsafe", (0.80, 0.30, 0.45, 0.80, 0.85), False, "borderline"),
    ("tr18", "demo-starter", (0.65, 0.45, 0.40, 0.80, 0.75), False, "borderline"),
    ("tr19", "readme-driven", (0.60, 0.40, 0.35, 0.75, 0.70), False, "borderline"),
    ("tr20", "weekend-orm", (0.55, 0.50, 0.45, 0.70, 0.65), False, "borderline"),
]
_CLASSIC_TEST = [
    ("te01", "stream-parser", (0.84, 0.82, 0.86, 0.80, 0.78), True, "clear"),
    ("te02", "config-loader", (0.80, 0.88, 0.78, 0.75, 0.84), True, "clear"),
    ("te03", "php-guestbook", (0.22, 0.18, 0.10, 0.25, 0.35), False, "clear"),
    ("te04", "spaghetti-etl", (0.18, 0.30, 0.20, 0.15, 0.20), False, "clear"),
    ("te05", "unmaintained-bot", (0.30, 0.25, 0.12, 0.30, 0.38), False, "clear"),
    ("te06", "fork-of-fork", (0.25, 0.20, 0.18, 0.22, 0.30), False, "clear"),
    ("te07", "tls-proxy", (0.58, 0.88, 0.82, 0.32, 0.38), True, "borderline"),
    ("te08", "sandbox-runtime", (0.62, 0.82, 0.78, 0.38, 0.42), True, "borderline"),
    ("te09", "landing-page-kit", (0.72, 0.38, 0.42, 0.88, 0.78), False, "borderline"),
    ("te10", "slick-cli", (0.68, 0.42, 0.38, 0.82, 0.80), False, "borderline"),
]


def classic() -> Dataset:
    """The classic dataset: 20 train (8 accepted, 12 rejected; 10 clear, 10 borderline) and
    10 held-out test repositories (4 accepted, 6 rejected; 6 clear, 4 borderline)."""
    return Dataset("classic", _split(_CLASSIC_TRAIN), _split(_CLASSIC_TEST),
                   "30 hand-built repositories; secure, tested code is what gets accepted")


# Generated benchmark constants (see ``synthetic``).
SYN_TRUE_WEIGHTS = np.array([0.15, 0.30, 0.30, 0.10, 0.15])
SYN_INTERACTION = 0.6
SYN_DECEPTIVE_SHARE = 0.2


def synthetic(n_train: int = 200, n_test: int = 100, noise: float = 0.1,
              seed: int = 0) -> Dataset:
    """A generated benchmark, larger and harder than the classic set.

    Features are drawn from Beta(2, 2). The true rule is
    ``z = SYN_TRUE_WEIGHTS . x + SYN_INTERACTION * (security - 0.5) * (test_coverage - 0.5)``
    (an interaction no linear scorer can express exactly), and a repository is accepted when
    ``z`` is above the median of all generated ``z``. A share ``SYN_DECEPTIVE_SHARE`` of rows
    are deceptive borderline cases: documentation and simplicity are pushed high and security
    or test coverage low (they look good, most are rejected), or the reverse. Finally each label
    is flipped with probability ``noise`` (label noise, in [0, 0.5]). Deterministic in ``seed``.

    Raises:
        ValueError: sizes below 4 or noise outside [0, 0.5].
    """
    if n_train < 4 or n_test < 4:
        raise ValueError(f"synthetic: n_train and n_test must be >= 4, got {n_train}, {n_test}")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"synthetic: noise must be in [0, 0.5], got {noise}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    n = n_train + n_test
    X = rng.beta(2.0, 2.0, size=(n, N_FEATURES))
    deceptive = rng.random(n) < SYN_DECEPTIVE_SHARE
    looks_good = rng.random(n) < 0.5
    k = int(deceptive.sum())
    high, low = rng.uniform(0.7, 0.95, size=(k, 2)), rng.uniform(0.1, 0.4, size=(k, 2))
    d_idx = np.flatnonzero(deceptive)
    good = looks_good[d_idx]
    X[d_idx[good][:, None], [3, 4]] = high[good]
    X[d_idx[good][:, None], [1, 2]] = low[good]
    X[d_idx[~good][:, None], [3, 4]] = low[~good]
    X[d_idx[~good][:, None], [1, 2]] = high[~good]
    z = X @ SYN_TRUE_WEIGHTS + SYN_INTERACTION * (X[:, 1] - 0.5) * (X[:, 2] - 0.5)
    y = z > np.median(z)
    y = np.where(rng.random(n) < noise, ~y, y)
    X = np.round(X, 4)
    diff = np.where(deceptive | (np.abs(z - np.median(z)) < 0.03), "borderline", "clear")
    rows = [(f"syn{i:05d}", f"generated-{i:05d}", tuple(X[i]), bool(y[i]), str(diff[i]))
            for i in range(n)]
    return Dataset(f"synthetic(n_train={n_train}, n_test={n_test}, noise={noise}, seed={seed})",
                   _split(rows[:n_train]), _split(rows[n_train:]),
                   "generated: interacting features, deceptive borderline cases, label noise")


def parse_csv(text: str, name: str = "csv") -> Dataset:
    """Parse labelled repositories from CSV text.

    Expected header (any order): ``id,name,split,maintainability,security,test_coverage,
    documentation,simplicity,label``; ``split`` is ``train`` or ``test``; features are numbers
    in [0, 1]; ``label`` is ``accepted``/``rejected`` or ``1``/``0``; ids are unique.

    Raises:
        ValueError: naming the line and column and what was expected.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError("empty CSV: expected a header line with columns "
                         f"{','.join(CSV_COLUMNS)}") from None
    missing = [c for c in CSV_COLUMNS if c not in header]
    extra = [c for c in header if c not in CSV_COLUMNS]
    if missing or extra or len(set(header)) != len(header):
        raise ValueError(
            f"line 1 (header): missing columns {missing}, unexpected columns {extra}; "
            f"expected exactly {','.join(CSV_COLUMNS)}")
    col = {c: header.index(c) for c in CSV_COLUMNS}
    rows: dict[str, list] = {"train": [], "test": []}
    seen: dict[str, int] = {}
    for line_no, raw in enumerate(reader, start=2):
        if not raw or all(not c.strip() for c in raw):
            continue
        if len(raw) != len(header):
            raise ValueError(f"line {line_no}: expected {len(header)} fields, got {len(raw)}")
        cell = {c: raw[i].strip() for c, i in col.items()}
        rid = cell["id"]
        if not rid:
            raise ValueError(f"line {line_no}, column id: expected a non-empty id")
        if rid in seen:
            raise ValueError(f"line {line_no}, column id: duplicate id {rid!r} "
                             f"(first on line {seen[rid]}); ids must be unique")
        seen[rid] = line_no
        split = cell["split"].lower()
        if split not in rows:
            raise ValueError(f"line {line_no}, column split: expected 'train' or 'test', "
                             f"got {cell['split']!r}")
        feats = []
        for f in FEATURES:
            try:
                v = float(cell[f])
            except ValueError:
                raise ValueError(f"line {line_no}, column {f}: expected a number in [0, 1], "
                                 f"got {cell[f]!r}") from None
            if math.isnan(v) or not 0.0 <= v <= 1.0:
                raise ValueError(f"line {line_no}, column {f}: expected a number in [0, 1], "
                                 f"got {cell[f]!r}")
            feats.append(v)
        label = cell["label"].lower()
        if label not in _LABELS:
            raise ValueError(f"line {line_no}, column label: expected accepted/rejected or 1/0, "
                             f"got {cell['label']!r}")
        rows[split].append((rid, cell["name"] or rid, tuple(feats), _LABELS[label], "unknown"))
    for split, r in rows.items():
        if not r:
            raise ValueError(f"split {split!r} is empty: expected at least one row with "
                             f"split={split}")
    labels = {row[3] for row in rows["train"]}
    if labels != {True, False}:
        raise ValueError("split 'train' needs at least one accepted and one rejected row "
                         "(mutation learns from how the two classes differ)")
    return Dataset(name, _split(rows["train"]), _split(rows["test"]), f"imported from {name}")


def load_csv(path: str | Path) -> Dataset:
    """Read a CSV file of labelled repositories (see ``parse_csv``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read as UTF-8 text ({exc.__class__.__name__})") from None
    return parse_csv(text, name=p.name)


def to_csv_rows(ds: Dataset) -> list[dict]:
    """The dataset as rows of ``CSV_COLUMNS`` (the import format), train first."""
    out = []
    for split_name, s in (("train", ds.train), ("test", ds.test)):
        for i in range(len(s)):
            row = {"id": s.ids[i], "name": s.names[i], "split": split_name}
            row.update({f: float(s.X[i, j]) for j, f in enumerate(FEATURES)})
            row["label"] = "accepted" if s.y[i] else "rejected"
            out.append(row)
    return out


def load_dataset(spec: str) -> Dataset:
    """``classic``, ``synthetic`` (default generated benchmark) or a path to a CSV file."""
    if spec == "classic":
        return classic()
    if spec == "synthetic":
        return synthetic()
    if spec.lower().endswith(".csv"):
        return load_csv(spec)
    raise ValueError(f"dataset: expected 'classic', 'synthetic' or a path to a .csv file, "
                     f"got {spec!r}")
