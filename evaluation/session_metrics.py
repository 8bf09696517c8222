"""Session metrics: the pipeline's visits (`sessions.jsonl`, `floor_paths.npz`) against the
simulator's true sessions and floor paths.

Who is who comes from the floor: every sample of a found shopper's path is given to the true
person standing nearest at that instant (within `match_m`), and the shopper is the person most
of its samples went to. A true session and a found one then overlap by the samples of the
found session's shoppers that went to the true session's people, and a one-to-one assignment
maximising that overlap matches them. Reported:

- `true` / `found` sessions and the `matched` ones, `recall` and `precision` of the matching;
- `fragments`: found sessions per true session that hold a shopper who is mostly one of its
  people (1 is ideal);
- `enter_error_s` / `exit_error_s`: median absolute error of the enter (exit) time of matched
  sessions (exit where both have one), and `entrance_accuracy`: the same door;
- `parties` (true sessions of two or more) and `parties_grouped`: the share of those whose
  people, where found, all went to the matched session; `wrong_groups`: the share of found
  sessions of two or more shoppers that hold people of different true sessions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from storelens.attribution.paths import FloorPaths
from storelens.records import Session

MATCH_M = 1.5


@dataclass(frozen=True)
class SessionMetrics:
    true: int
    found: int
    matched: int
    recall: float
    precision: float
    fragments: float
    enter_error_s: float | None
    exit_error_s: float | None
    entrance_accuracy: float | None
    parties: int
    parties_grouped: float | None
    wrong_groups: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def person_of_shoppers(
    found: FloorPaths, truth: FloorPaths, match_m: float = MATCH_M
) -> tuple[dict[str, str], Counter[tuple[str, str]]]:
    """Each found shopper's true person (where any sample lay within `match_m` of one), and
    the sample counts behind it: (found shopper, person) → samples."""
    people = np.unique(truth.shopper_id)
    dist = np.full((len(found), len(people)), np.inf)
    for j, person in enumerate(people.tolist()):  # per true person, over all samples at once
        mine = truth.shopper_id == person
        t, xy = truth.t[mine], truth.xy[mine]
        during = (found.t >= t[0]) & (found.t <= t[-1])
        x = np.interp(found.t, t, xy[:, 0])
        y = np.interp(found.t, t, xy[:, 1])
        d = np.hypot(found.xy[:, 0] - x, found.xy[:, 1] - y)
        dist[during, j] = d[during]
    best = dist.argmin(axis=1) if len(people) else np.zeros(len(found), int)
    near = dist[np.arange(len(found)), best] <= match_m if len(people) else np.zeros(0, bool)
    votes: Counter[tuple[str, str]] = Counter(
        zip(found.shopper_id[near].tolist(), people[best[near]].tolist(), strict=True)
    )
    owner: dict[str, tuple[int, str]] = {}
    for (shopper, person), n in votes.items():
        if n > owner.get(shopper, (0, ""))[0]:
            owner[shopper] = (n, person)
    return {s: p for s, (_, p) in owner.items()}, votes


def score_sessions(
    true_sessions: Sequence[Session],
    found_sessions: Sequence[Session],
    true_paths: FloorPaths,
    found_paths: FloorPaths,
    match_m: float = MATCH_M,
) -> SessionMetrics:
    person, votes = person_of_shoppers(found_paths, true_paths, match_m)
    true_of_person = {p: i for i, s in enumerate(true_sessions) for p in s.shopper_ids}
    found_of_shopper = {v: i for i, s in enumerate(found_sessions) for v in s.shopper_ids}
    overlap = np.zeros((len(found_sessions), len(true_sessions)))
    for (shopper, p), n in votes.items():
        if shopper in found_of_shopper and p in true_of_person:
            overlap[found_of_shopper[shopper], true_of_person[p]] += n
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0]
    matched_of_true = {c: r for r, c in pairs}

    enter = [abs(found_sessions[r].enter_t - true_sessions[c].enter_t) for r, c in pairs]
    exits = [
        abs(found_sessions[r].exit_t - true_sessions[c].exit_t)  # type: ignore[operator]
        for r, c in pairs
        if found_sessions[r].exit_t is not None and true_sessions[c].exit_t is not None
    ]
    doors = [found_sessions[r].entrance_id == true_sessions[c].entrance_id for r, c in pairs]
    owned = np.zeros_like(overlap, bool)  # found session i holds a shopper who is mostly j's
    for shopper, p in person.items():
        if shopper in found_of_shopper and p in true_of_person:
            owned[found_of_shopper[shopper], true_of_person[p]] = True
    touched = owned.sum(axis=0)

    parties = [i for i, s in enumerate(true_sessions) if len(s.shopper_ids) > 1]
    shoppers_of_person: dict[str, set[str]] = {}
    for shopper, p in person.items():
        shoppers_of_person.setdefault(p, set()).add(shopper)
    grouped = []
    for i in parties:
        homes = {
            found_of_shopper.get(v)
            for p in true_sessions[i].shopper_ids
            for v in shoppers_of_person.get(p, ())
            if v in found_of_shopper
        }
        if homes:
            grouped.append(homes == {matched_of_true.get(i)})
    groups = [s for s in found_sessions if len(s.shopper_ids) > 1]
    wrong = [
        len({true_of_person.get(person.get(v, ""), -1 - k) for k, v in enumerate(s.shopper_ids)})
        > 1
        for s in groups
    ]
    n_true, n_found = len(true_sessions), len(found_sessions)
    return SessionMetrics(
        true=n_true,
        found=n_found,
        matched=len(pairs),
        recall=len(pairs) / n_true if n_true else 0.0,
        precision=len(pairs) / n_found if n_found else 0.0,
        fragments=float(touched[touched > 0].mean()) if (touched > 0).any() else 0.0,
        enter_error_s=float(np.median(enter)) if enter else None,
        exit_error_s=float(np.median(exits)) if exits else None,
        entrance_accuracy=float(np.mean(doors)) if doors else None,
        parties=len(parties),
        parties_grouped=float(np.mean(grouped)) if grouped else None,
        wrong_groups=float(np.mean(wrong)) if wrong else None,
    )
