"""Reference lines on the same splits: majority class, the seed agent, and the ceiling.

The **ceiling** is the most accurate linear scorer a task policy can express: weights in
``WEIGHT_BOUNDS`` and an effective threshold (``threshold + STYLE_OFFSET[style]``) in
``[THRESHOLD_BOUNDS[0] + min offset, THRESHOLD_BOUNDS[1] + max offset]``, chosen on the **train**
split only and then scored on both splits. Accepting ``w . x >= t`` is unchanged when ``(w, t)``
is scaled by any ``c > 0``, so this set of classifiers is every non-negative direction with a
non-negative threshold.

- Up to ``MILP_MAX_ROWS`` train rows the ceiling is **exact**: a mixed-integer program (HiGHS via
  ``scipy.optimize.milp``) maximises the number of correct train decisions, with big-M
  indicator constraints and a separation margin ``MILP_MARGIN``.
- Above that the MILP no longer solves in seconds, so the ceiling is a **lower bound**: the best
  of an L1 soft-margin LP and a non-negative logistic fit, refined by ``REFINE_STEPS`` seeded
  local-search steps (Gaussian moves of the direction with sd ``REFINE_SIGMA``, each scored with
  its exactly best threshold).

Every candidate is turned into a real ``TaskPolicy`` and re-scored with ``engine.evaluate``, so
the reported accuracies are ones the engine itself computes.

Public names: Reference, references, majority_class, seed_reference, ceiling, best_threshold,
policy_from_direction, check_metrics_match, MILP_MAX_ROWS, MILP_MARGIN, REFINE_STEPS,
REFINE_SIGMA, REFINE_SEED.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dataset import Dataset
from engine.evaluate import accuracy
from engine.policy import (
    N_FEATURES,
    STYLE_OFFSET,
    THRESHOLD_BOUNDS,
    WEIGHT_BOUNDS,
    TaskPolicy,
    seed_agent,
)

MILP_MAX_ROWS = 60
MILP_MARGIN = 1e-5
REFINE_STEPS = 4000
REFINE_SIGMA = 0.2
REFINE_SEED = 0


@dataclass(frozen=True)
class Reference:
    """One reference line.

    Attributes:
        name: ``majority class``, ``seed agent`` or ``ceiling``.
        train, test: accuracy on each split, in [0, 1].
        method: how it was obtained, in words.
        exact: False when the value is only a lower bound (the large-data ceiling).
        task: the task policy behind it (None for the majority class).
    """

    name: str
    train: float
    test: float
    method: str
    exact: bool = True
    task: TaskPolicy | None = None


def majority_class(ds: Dataset) -> Reference:
    """Predict the train split's majority label for every repository (ties: reject all)."""
    accept = int(ds.train.y.sum()) * 2 > len(ds.train)
    label = "accepted" if accept else "rejected"
    train = float(np.mean(ds.train.y == accept))
    test = float(np.mean(ds.test.y == accept))
    return Reference("majority class", train, test, f"label every repository {label} "
                     "(the train majority)")


def seed_reference(ds: Dataset) -> Reference:
    """The seed agent (equal weights, threshold 0.6) every run starts from."""
    task = seed_agent().task
    return Reference("seed agent", float(accuracy(task, ds.train)),
                     float(accuracy(task, ds.test)), "the starting agent of every run", True, task)


def _effective_bounds() -> tuple[float, float]:
    return (THRESHOLD_BOUNDS[0] + min(STYLE_OFFSET.values()),
            THRESHOLD_BOUNDS[1] + max(STYLE_OFFSET.values()))


def policy_from_direction(direction: np.ndarray, tau: float) -> TaskPolicy:
    """The task policy accepting ``direction . x >= tau`` (direction >= 0, max 1; tau >= 0).

    Scales ``(direction, tau)`` into the bounds and picks the review style whose offset puts
    the effective threshold where it must be.
    """
    t_lo, t_hi = _effective_bounds()
    d = np.clip(np.asarray(direction, dtype=np.float64), 0.0, None)
    top = max(float(d.max()) / WEIGHT_BOUNDS[1], float(tau) / t_hi, 1e-12)
    w, t = d / top, min(max(float(tau) / top, t_lo), t_hi)
    for style in ("balanced", "lenient", "strict"):
        th = t - STYLE_OFFSET[style]
        if THRESHOLD_BOUNDS[0] <= th <= THRESHOLD_BOUNDS[1]:
            return TaskPolicy(tuple(float(x) for x in w), float(th), style)
    # t lies in [t_lo, t_hi] by construction, so one style always fits.
    raise AssertionError(f"effective threshold {t} outside [{t_lo}, {t_hi}]")


def best_threshold(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The threshold that makes ``scores >= tau`` most accurate, exactly.

    Args:
        scores: (n,) scores; y: (n,) bool labels.

    Returns:
        (accuracy, tau): tau is 0 (accept all), a midpoint between two distinct sorted
        scores, or just above the largest score (reject all); the lowest tau wins ties.
    """
    order = np.argsort(scores, kind="stable")
    s, yy = scores[order], np.asarray(y, dtype=bool)[order]
    # Cut k rejects the k lowest scores: correct = rejects among them + accepts above.
    correct = np.r_[0, np.cumsum(~yy)] + np.r_[np.cumsum(yy[::-1])[::-1], 0]
    valid = np.r_[True, s[1:] > s[:-1], True]
    correct = np.where(valid, correct, -1)
    k = int(np.argmax(correct))
    if k == 0:
        tau = min(0.0, float(s[0]))
    elif k == len(s):
        tau = float(s[-1]) + 1e-3
    else:
        tau = float((s[k - 1] + s[k]) / 2)
    return float(correct[k]) / len(s), tau


def _exact_direction(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(y)
    t_lo, t_hi = _effective_bounds()
    big_m = N_FEATURES * WEIGHT_BOUNDS[1] + t_hi + 1.0
    sign = np.where(y, 1.0, -1.0)
    # Variables: weights (5), effective threshold, z_i (1 = row i decided correctly).
    # sign_i (w . x_i - t) >= MILP_MARGIN - M (1 - z_i)
    A = np.zeros((n, N_FEATURES + 1 + n))
    A[:, :N_FEATURES] = sign[:, None] * X
    A[:, N_FEATURES] = -sign
    A[np.arange(n), N_FEATURES + 1 + np.arange(n)] = -big_m
    cons = LinearConstraint(A, np.full(n, MILP_MARGIN - big_m), np.full(n, np.inf))
    lb = np.r_[np.full(N_FEATURES, WEIGHT_BOUNDS[0]), t_lo, np.zeros(n)]
    ub = np.r_[np.full(N_FEATURES, WEIGHT_BOUNDS[1]), t_hi, np.ones(n)]
    c = np.r_[np.zeros(N_FEATURES + 1), -np.ones(n)]
    res = milp(c, constraints=cons, integrality=np.r_[np.zeros(N_FEATURES + 1), np.ones(n)],
               bounds=Bounds(lb, ub))
    if res.x is None:
        raise RuntimeError(f"ceiling MILP failed: {res.message}")
    return res.x[:N_FEATURES]


def _fit_directions(X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Candidate directions from an L1 soft-margin LP and a non-negative logistic fit."""
    from scipy.optimize import linprog, minimize
    from scipy.special import expit, log_expit

    n = len(y)
    sign = np.where(y, 1.0, -1.0)
    # min sum xi  s.t.  sign_i (v . x_i + b) >= 1 - xi_i,  v >= 0, xi >= 0
    A = np.hstack([-sign[:, None] * X, -sign[:, None], -np.eye(n)])
    lp = linprog(np.r_[np.zeros(N_FEATURES + 1), np.ones(n)], A_ub=A, b_ub=-np.ones(n),
                 bounds=[(0, None)] * N_FEATURES + [(None, None)] + [(0, None)] * n,
                 method="highs")

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        m = sign * (X @ p[:N_FEATURES] + p[N_FEATURES])
        g = -sign * expit(-m) / n
        return float(-log_expit(m).mean()), np.r_[X.T @ g, g.sum()]

    logit = minimize(loss, np.r_[np.ones(N_FEATURES), -N_FEATURES / 2], jac=True,
                     method="L-BFGS-B", bounds=[(0, None)] * N_FEATURES + [(None, None)])
    out = [np.full(N_FEATURES, 1.0)]
    for x in (lp.x if lp.status == 0 else None, logit.x):
        if x is not None and x[:N_FEATURES].max() > 0:
            out.append(x[:N_FEATURES] / x[:N_FEATURES].max())
    return out


def _refine(X: np.ndarray, y: np.ndarray, starts: list[np.ndarray]) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence(REFINE_SEED))
    best_d = max(starts, key=lambda d: best_threshold(X @ d, y)[0])
    best_a = best_threshold(X @ best_d, y)[0]
    for _ in range(REFINE_STEPS):
        cand = np.clip(best_d + rng.normal(0.0, REFINE_SIGMA, N_FEATURES), 0.0, None)
        top = cand.max()
        if top <= 0:
            continue
        cand = cand / top
        a = best_threshold(X @ cand, y)[0]
        if a >= best_a:  # accept sideways moves: accuracy has wide plateaus
            best_d, best_a = cand, a
    return best_d


def ceiling(ds: Dataset) -> Reference:
    """The best linear scorer inside the bounds, chosen on train (see module docstring)."""
    X, y = ds.train.X, ds.train.y
    n = len(y)
    if n <= MILP_MAX_ROWS:
        d = _exact_direction(X, y)
        exact = True
        method = (f"exact: mixed-integer program maximising train accuracy ({n} rows <= "
                  f"MILP_MAX_ROWS = {MILP_MAX_ROWS})")
    else:
        d = _refine(X, y, _fit_directions(X, y))
        exact = False
        method = (f"lower bound: LP / logistic fit refined by {REFINE_STEPS} seeded "
                  f"local-search steps ({n} train rows > MILP_MAX_ROWS = {MILP_MAX_ROWS})")
    if d.max() <= 0:
        d = np.ones(N_FEATURES)
    # Re-pick the threshold exactly for the direction (robust to solver tolerances).
    _, tau = best_threshold(X @ d, y)
    task = policy_from_direction(d, tau)
    return Reference("ceiling", float(accuracy(task, ds.train)),
                     float(accuracy(task, ds.test)), method, exact, task)


def references(ds: Dataset) -> tuple[Reference, ...]:
    """Majority class, seed agent and ceiling on ``ds``, in that order."""
    return (majority_class(ds), seed_reference(ds), ceiling(ds))


def check_metrics_match(seed_train_accuracy: float | None, ds: Dataset) -> None:
    """Raise when the metrics' iteration-0 fitness is not the seed agent's on ``ds``.

    Args:
        seed_train_accuracy: ``best_fitness`` at iteration 0 (the seed agent), or None when
            the metrics do not include iteration 0 (nothing to check).

    Raises:
        ValueError: the metrics come from another dataset, with the fix.
    """
    if seed_train_accuracy is None:
        return
    expected = accuracy(seed_agent().task, ds.train)
    if abs(seed_train_accuracy - expected) > 1e-9:
        raise ValueError(
            f"the metrics' iteration-0 train accuracy ({seed_train_accuracy:.4f}) is not the "
            f"seed agent's on dataset {ds.name!r} ({expected:.4f}): the ablation ran on "
            "another dataset. Pass the --dataset it used, or --no-references")
