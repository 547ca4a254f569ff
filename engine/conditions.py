"""Ablation conditions: a selection strategy x meta adaptivity (the operator is chosen per
ablation, identical for every condition, so one ablation never confounds two changes).

Public names: Condition, CONDITIONS, get_condition.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.select import SELECTION


@dataclass(frozen=True)
class Condition:
    """One arm of the ablation.

    Attributes:
        name: registry key.
        selection: key into ``engine.select.SELECTION``.
        adaptive_meta: False freezes the meta policy (no self-modification of the procedure).
        isolates: one line on what comparing against this arm tells.
    """

    name: str
    selection: str
    adaptive_meta: bool
    isolates: str


CONDITIONS: dict[str, Condition] = {
    "hyperagent": Condition("hyperagent", "weighted", True,
                            "full system: archive with weighted selection + adaptive meta policy"),
    "baseline": Condition("baseline", "weighted", False,
                          "frozen meta policy: isolates the effect of self-modifying the "
                          "mutation procedure"),
    "no_archive": Condition("no_archive", "greedy", True,
                            "greedy hill-climbing from the current best: isolates the effect "
                            "of keeping an archive of stepping stones"),
}
for _c in CONDITIONS.values():
    assert _c.selection in SELECTION, _c


def get_condition(name: str | Condition) -> Condition:
    """Look up a condition by name.

    Raises:
        ValueError: unknown name, listing the valid ones.
    """
    if isinstance(name, Condition):
        return name
    try:
        return CONDITIONS[name]
    except KeyError:
        raise ValueError(f"unknown condition {name!r}; expected one of "
                         f"{', '.join(CONDITIONS)}") from None
