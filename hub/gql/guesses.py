"""The guesses a request makes on fields its caller may only match, and their budget.

A match record or a key-anchored filter compares, per key value, one value of each
match-only field (hub/policy/access.py's `check_anchored` holds filters to that). Each
such comparison is a `Guess`, spent against the dataset's budget in the guess book
(hub/store/guesses.py) before the source is asked. The key itself is not budgeted: it
is what names the record (the request and daily quotas bound how many are named).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adapters.base import Cmp, Filter
from hub.errors import AuditUnavailable, MatchLimit, StoreUnavailable
from hub.normalize import normalizer
from hub.plan import MatchPlan
from hub.policy.access import cmps
from hub.store.guesses import Digests, Guess, GuessBook, canonical


def _digest(digests: Digests, dataset: str, field: str, steps: tuple[str, ...], value: Any) -> str:
    return digests.of(dataset, field, canonical(normalizer(steps)(value)))


def match_guesses(
    plan: MatchPlan, only: Iterable[str], digests: Digests
) -> tuple[list[Guess], list[tuple[int, str]]]:
    """Per record and match-only field given, one guess; and where each came from
    (record index, field)."""
    chosen = set(only)
    fields = [f for f in plan.fields if f in chosen]
    guesses, at = [], []
    for i, record in enumerate(plan.records):
        key = _digest(digests, plan.dataset, plan.key, plan.normalize[plan.key], record[plan.key])
        for f in fields:
            value = record.get(f)
            if value is not None:
                guesses.append(Guess(key, f, _digest(digests, plan.dataset, f, plan.normalize[f], value)))
                at.append((i, f))
    return guesses, at


def filter_guesses(
    dataset: str, key: str, where: Filter | None, only: Iterable[str],
    normalize: Mapping[str, tuple[str, ...]], digests: Digests,
) -> list[Guess]:  # fmt: skip
    """The guesses of a key-anchored filter (`check_anchored` passed): every named key
    value with every match-only field's one value."""
    parts, chosen = cmps(where), set(only) - {key}
    keys = {v for c in parts if c.field == key for v in _values(c)}
    compared = [(c.field, _values(c)[0]) for c in parts if c.field in chosen]
    return [
        Guess(
            _digest(digests, dataset, key, normalize[key], k),
            f,
            _digest(digests, dataset, f, normalize[f], v),
        )
        for k in sorted(keys, key=repr)
        for f, v in compared
    ]


def related_guesses(
    dataset: str, key: str, named: Iterable[Any], compared: Sequence[tuple[str, Any]],
    normalize: Mapping[str, tuple[str, ...]], digests: Digests,
) -> list[Guess]:  # fmt: skip
    """The guesses of a relationship filter that verifies (hub/policy/related.py): every
    record of `dataset` it names by its key with every match-only field's one value."""
    values = [(f, _digest(digests, dataset, f, normalize[f], v)) for f, v in compared]
    return [
        Guess(_digest(digests, dataset, key, normalize[key], k), f, digest)
        for k in named
        for f, digest in values
    ]


def _values(c: Cmp) -> tuple[Any, ...]:
    return tuple(c.value) if c.op == "in" else (c.value,)


async def spend(
    book: GuessBook, subject: str, dataset: str, guesses: Sequence[Guess], most: int, window_hours: float
) -> list[bool]:
    """The book's verdicts; fail closed (AUDIT_UNAVAILABLE) when it cannot be asked."""
    if not guesses:
        return []
    try:
        return await book.spend(subject, dataset, guesses, most, window_hours * 3600)
    except StoreUnavailable as e:
        raise AuditUnavailable(
            f"the hub cannot count comparisons on {dataset} now ({e}); try again later"
        ) from None


def limit_error(dataset: str, field: str, most: int, window_hours: float) -> MatchLimit:
    return MatchLimit(
        f"{dataset}.{field}: this key has been compared with {most} different values in the last "
        f"{window_hours:g} h, the most the dataset allows; the answer is withheld",
        dataset=dataset, field=field,
    )  # fmt: skip
