"""Task policy, meta policy and the hyperagent record that holds both.

Every numeric field has named bounds (``*_BOUNDS`` constants, inclusive) and every constructor
path that a mutation uses clamps to them. Records are frozen dataclasses: a mutation returns a
new record (``dataclasses.replace``) and never edits one in place (a deferred note is formatted
into its own cell on first read; no field ever changes value).

Public names: FEATURES, N_FEATURES, WEIGHT_BOUNDS, THRESHOLD_BOUNDS, STYLES, STYLE_OFFSET,
FOCUS_METRICS, WEIGHT_STEP_BOUNDS, THRESHOLD_STEP_BOUNDS, EXPLORATION_BOUNDS, META_RATE_BOUNDS,
SHRINK_BOUNDS, GROW_BOUNDS, MEMORY_SIZE, MUTATION_SOURCES, MemoryNote, TaskPolicy, MetaPolicy,
HyperAgent, seed_agent, clamp, clamp_weights, build, DeferredText, deferred_parts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

FEATURES: tuple[str, ...] = (
    "maintainability",
    "security",
    "test_coverage",
    "documentation",
    "simplicity",
)
N_FEATURES = len(FEATURES)

# Task-policy bounds. Score = weights . features, so with 5 features in [0, 1] and weights in
# [0, 1] the score lies in [0, 5]; the seed's weights sum to 1 so its score is the plain mean.
WEIGHT_BOUNDS = (0.0, 1.0)
THRESHOLD_BOUNDS = (0.05, 0.95)
STYLES: tuple[str, ...] = ("strict", "balanced", "lenient")
# A review style is a small offset on the decision threshold.
STYLE_OFFSET: dict[str, float] = {"strict": 0.05, "balanced": 0.0, "lenient": -0.05}

# Meta-policy bounds.
FOCUS_METRICS: tuple[str, ...] = ("balanced", "false_positives", "false_negatives", *FEATURES)
WEIGHT_STEP_BOUNDS = (0.005, 0.25)
THRESHOLD_STEP_BOUNDS = (0.002, 0.1)
EXPLORATION_BOUNDS = (0.05, 3.0)
# The meta policy's own adaptation parameters: how fast its step sizes drift (log-normal rate),
# and the factors that shrink / grow exploration after an improvement / a non-improvement.
META_RATE_BOUNDS = (0.0, 0.5)
SHRINK_BOUNDS = (0.5, 0.99)
GROW_BOUNDS = (1.01, 2.0)
MEMORY_SIZE = 6

MUTATION_SOURCES: tuple[str, ...] = ("seed", "heuristic", "llm")
OUTCOMES: tuple[str, ...] = ("improved", "same", "worse")


_new = object.__new__
_setattr = object.__setattr__


def build(cls, **values):
    """Make a frozen record from already-valid field values without running its checks.

    The loop's hot path builds several records per iteration from values it has just clamped;
    the dataclass ``__init__`` (one ``object.__setattr__`` per field plus ``__post_init__``)
    would cost more than the mutation itself. Callers pass every field.
    """
    obj = _new(cls)
    _setattr(obj, "__dict__", values)
    return obj


class DeferredText:
    """A text field of a frozen record that may be formatted on first read.

    Installed as the class attribute of the field (``HyperAgent.note``, ``Proposal.summary``).
    A record made the usual way holds the text in its ``__dict__``, which wins over this
    descriptor. A record made by ``build(cls, ..., _<field>_parts=[format, args, None])``
    instead formats ``format(*args)`` the first time the field is read and keeps it in the last
    slot of that list, so a long in-memory run never pays for summaries nobody reads. The
    record's ``__dict__`` never changes after it is built (a copy or pickle made while another
    thread reads the field sees a consistent record), and equality, ``repr``, ``to_dict`` and
    ``dataclasses.replace`` read the field like any other and see the same text.
    """

    def __init__(self, name: str, default: str = "") -> None:
        self.name, self.parts, self.default = name, f"_{name}_parts", default

    def __get__(self, obj, owner=None) -> str:
        if obj is None:
            return self.default
        d = obj.__dict__
        text = d.get(self.name)
        if text is not None:
            return text
        cell = d[self.parts]
        if cell[2] is None:
            cell[2] = cell[0](*cell[1])
        return cell[2]


def deferred_parts(record, name: str) -> list | None:
    """The ``[format, args, text]`` cell of a deferred field, else ``None`` (a plain field)."""
    return record.__dict__.get(f"_{name}_parts")


def clamp(value: float, bounds: tuple[float, float]) -> float:
    """Return ``value`` limited to the inclusive ``bounds`` (low, high)."""
    low, high = bounds
    return low if value < low else high if value > high else float(value)


def clamp_weights(weights) -> tuple[float, ...]:
    """Every weight limited to ``WEIGHT_BOUNDS``, as a tuple of floats."""
    lo, hi = WEIGHT_BOUNDS
    return tuple(lo if x < lo else hi if x > hi else float(x) for x in weights)


@dataclass(frozen=True)
class MemoryNote:
    """One remembered outcome of a mutation, read by later mutations.

    Attributes:
        iteration: loop iteration that produced the child.
        focus: the focus metric the mutation used.
        outcome: ``improved`` / ``same`` / ``worse`` (child train fitness vs its parent's).
        delta: child fitness minus parent fitness (train accuracy, in [-1, 1]).
    """

    iteration: int
    focus: str
    outcome: str
    delta: float

    @property
    def text(self) -> str:
        return f"it {self.iteration}: focus {self.focus} -> {self.outcome} ({self.delta:+.3f})"


@dataclass(frozen=True)
class TaskPolicy:
    """How a repository is scored and accepted.

    Attributes:
        weights: one weight per feature in ``FEATURES`` order, each in ``WEIGHT_BOUNDS``.
        threshold: decision threshold in ``THRESHOLD_BOUNDS``.
        review_style: one of ``STYLES``; adds ``STYLE_OFFSET[style]`` to the threshold.
    """

    weights: tuple[float, ...]
    threshold: float
    review_style: str = "balanced"

    def __post_init__(self) -> None:
        if len(self.weights) != N_FEATURES:
            raise ValueError(f"weights: expected {N_FEATURES} values, got {len(self.weights)}")
        if self.review_style not in STYLES:
            raise ValueError(f"review_style: expected one of {STYLES}, got {self.review_style!r}")

    @property
    def effective_threshold(self) -> float:
        return self.threshold + STYLE_OFFSET[self.review_style]

    @classmethod
    def clamped(cls, weights, threshold: float, review_style: str) -> TaskPolicy:
        """Build a policy with every field clamped to its bounds."""
        return cls(clamp_weights(weights), clamp(threshold, THRESHOLD_BOUNDS), review_style)

    def to_dict(self) -> dict:
        return {"weights": list(self.weights), "threshold": self.threshold,
                "review_style": self.review_style}

    @classmethod
    def from_dict(cls, d: dict) -> TaskPolicy:
        return cls(tuple(float(x) for x in d["weights"]), float(d["threshold"]),
                   str(d.get("review_style", "balanced")))


@dataclass(frozen=True)
class MetaPolicy:
    """How future mutations are made, including how this policy itself changes.

    Attributes:
        focus_metric: which error or feature the next mutation attends to (``FOCUS_METRICS``).
        weight_step: size of the error-pressure weight move (``WEIGHT_STEP_BOUNDS``).
        threshold_step: size of the threshold move (``THRESHOLD_STEP_BOUNDS``).
        exploration_scale: noise multiplier, in units of ``weight_step`` (``EXPLORATION_BOUNDS``).
        meta_rate: log-normal rate at which the step sizes self-adapt (``META_RATE_BOUNDS``).
        shrink: exploration factor after an improvement (``SHRINK_BOUNDS``).
        grow: exploration factor after a non-improvement (``GROW_BOUNDS``).
        memory: the last ``MEMORY_SIZE`` outcomes, oldest first; mutation reads them.
    """

    focus_metric: str = "balanced"
    weight_step: float = 0.05
    threshold_step: float = 0.02
    exploration_scale: float = 1.0
    meta_rate: float = 0.2
    shrink: float = 0.9
    grow: float = 1.1
    memory: tuple[MemoryNote, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.focus_metric not in FOCUS_METRICS:
            raise ValueError(
                f"focus_metric: expected one of {FOCUS_METRICS}, got {self.focus_metric!r}")

    @classmethod
    def clamped(cls, focus_metric: str, weight_step: float, threshold_step: float,
                exploration_scale: float, meta_rate: float, shrink: float, grow: float,
                memory: tuple[MemoryNote, ...]) -> MetaPolicy:
        """Build a meta policy with every numeric field clamped to its bounds."""
        return cls(focus_metric, clamp(weight_step, WEIGHT_STEP_BOUNDS),
                   clamp(threshold_step, THRESHOLD_STEP_BOUNDS),
                   clamp(exploration_scale, EXPLORATION_BOUNDS),
                   clamp(meta_rate, META_RATE_BOUNDS), clamp(shrink, SHRINK_BOUNDS),
                   clamp(grow, GROW_BOUNDS), tuple(memory[-MEMORY_SIZE:]))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["memory"] = [asdict(n) for n in self.memory]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MetaPolicy:
        memory = tuple(MemoryNote(int(n["iteration"]), str(n["focus"]), str(n["outcome"]),
                                  float(n["delta"])) for n in d.get("memory", ()))
        return cls(str(d["focus_metric"]), float(d["weight_step"]), float(d["threshold_step"]),
                   float(d["exploration_scale"]), float(d["meta_rate"]), float(d["shrink"]),
                   float(d["grow"]), memory)


@dataclass(frozen=True)
class HyperAgent:
    """One editable record: a task policy and the meta policy that mutates it.

    Attributes:
        id: archive index of this agent within its run (the seed is 0).
        parent_id: the parent's id, ``None`` for the seed.
        generation: depth in the lineage tree (seed = 0).
        iteration: loop iteration that created it (seed = 0).
        task: the task policy.
        meta: the meta policy.
        note: a short human-readable summary of what changed and why.
        source: how it was made, one of ``MUTATION_SOURCES``.
    """

    id: int
    parent_id: int | None
    generation: int
    iteration: int
    task: TaskPolicy
    meta: MetaPolicy
    note: str = ""
    source: str = "seed"

    def to_dict(self) -> dict:
        return {"id": self.id, "parent_id": self.parent_id, "generation": self.generation,
                "iteration": self.iteration, "task": self.task.to_dict(),
                "meta": self.meta.to_dict(), "note": self.note, "source": self.source}

    @classmethod
    def from_dict(cls, d: dict) -> HyperAgent:
        parent = d.get("parent_id")
        return cls(int(d["id"]), None if parent is None else int(parent), int(d["generation"]),
                   int(d["iteration"]), TaskPolicy.from_dict(d["task"]),
                   MetaPolicy.from_dict(d["meta"]), str(d.get("note", "")),
                   str(d.get("source", "seed")))


HyperAgent.note = DeferredText("note")

SEED_WEIGHTS: tuple[float, ...] = (0.2,) * N_FEATURES
SEED_THRESHOLD = 0.6


def seed_agent() -> HyperAgent:
    """The starting agent: equal weights (score = mean feature), threshold 0.6, balanced."""
    return HyperAgent(0, None, 0, 0, TaskPolicy(SEED_WEIGHTS, SEED_THRESHOLD, "balanced"),
                      MetaPolicy(), "seed agent: equal weights, threshold 0.6", "seed")
