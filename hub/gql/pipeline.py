"""A dataset field's request, step by step: plan, decide, purpose, budget, fetch, note, write.

Every generated dataset field (`penduduk`, `pendudukMatch`, `pendudukAggregate`, see
hub/gql/dataset_types.py) resolves through `read`, `match` or `aggregate` below, and each
takes the same steps in the same order:

    plan     the selection and arguments become a plan (hub/plan.py); its filter is
             charged to the request's budget
    decide   the plan's (object, action) pairs go to the policy in one batch: a filter
             or sort that is not allowed is FORBIDDEN, a field that is not allowed
             leaves the plan and is answered as null with FORBIDDEN
    purpose  non-public pairs may require the caller's stated purpose
    budget   comparisons of fields the caller may only match are counted against the
             dataset's guess budget (hub/gql/guesses.py): a filter past it is refused,
             a match record's flag past it is withheld
    fetch    the plan runs on the sources (hub/fetch.py)
    note     what was released goes into the request's ledger, which becomes the
             audit record before the answer leaves (hub/http/app.py)
    write    the rows become the field's GraphQL subtree, handed to the executor as
             already completed (hub/gql/executor.py)

No value reaches `write` that `decide` did not allow.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from graphql import GraphQLResolveInfo

from adapters.base import Exists, Filter
from hub.audit.ledger import Ledger, count_rows
from hub.cursor import Cursors
from hub.errors import AuditUnavailable, Forbidden, QuotaExceeded, StoreUnavailable
from hub.fetch import run_match, run_read
from hub.filter_size import FilterBudget
from hub.gql.aggregate import Rule, aggregate_plan, write_groups
from hub.gql.answer import shape_connection
from hub.gql.dataset_types import DatasetTypes
from hub.gql.executor import Precompleted, SubError
from hub.gql.groups import GroupBudget, fetch_groups
from hub.gql.guesses import filter_guesses, limit_error, match_guesses, related_guesses, spend
from hub.gql.match import match_plan, write_matches
from hub.gql.selection import Selected, collect
from hub.gql.step_cache import NEVER, StepMemo
from hub.gql.translate import FieldInputs, read_plan
from hub.plan import NodePlan, ReadPlan
from hub.policy.access import (
    aggregate_pairs,
    aggregate_used,
    check_aggregate,
    check_anchored,
    check_match,
    check_perturbable,
    check_related_groups,
    compared_read_pairs,
    count_pairs,
    counting_pairs,
    filter_shape,
    match_only,
    match_pairs,
    pairs,
    related_count_pairs,
    related_counted,
    related_group_pairs,
    relationship_pairs,
    restrict,
)
from hub.policy.decisions import Pair, Policy
from hub.policy.related import Verification, verifications
from hub.semijoin import Join, has_exists, resolve
from hub.sources import Calls
from hub.store.guesses import Digests, Guess, GuessBook
from hub.store.quotas import QuotaBook

log = logging.getLogger("hub.match")
Types = dict[str, DatasetTypes]  # every dataset's generated types, by `opd.dataset`


@dataclass(frozen=True)
class MatchLimits:
    """Records a request may compare, and the caller may have compared a day."""

    per_request: int
    per_day: int


class Context(Protocol):
    """What the steps need from a request (see `hub.gql.service.RequestContext`)."""

    @property
    def sources(self) -> Calls: ...
    @property
    def cursors(self) -> Cursors: ...
    @property
    def max_first(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def filters(self) -> FilterBudget: ...
    @property
    def guesses(self) -> GuessBook: ...
    @property
    def digests(self) -> Digests: ...
    @property
    def quotas(self) -> QuotaBook: ...
    @property
    def limits(self) -> MatchLimits: ...
    @property
    def disclosure_key(self) -> str: ...
    @property
    def groups(self) -> GroupBudget: ...


async def read(
    types: Types, t: DatasetTypes, info: GraphQLResolveInfo[Any], args: dict[str, Any]
) -> Precompleted:
    ctx: Context = info.context
    q = FieldInputs(info.fragments, info.variable_values, ctx.max_first)
    memo: StepMemo = getattr(info, "memo", NEVER)  # set on the fast path (hub/gql/fast_path.py)
    sel = memo.get("selection", lambda: collect(info.field_nodes, q.fragments, q.variables))
    plan = read_plan(types, t, sel, args, q, ctx.cursors, memo)  # plan
    ctx.filters.check(plan.where, plan.dataset)
    plan, used, only = decide_read(ctx, plan, t, memo, types)  # decide
    # a verification: rows named by the key, one value each (hub/policy/access.py, related.py);
    # every rule is checked before anything is charged, so a refused request spends nothing
    key = t.dataset.spec.key
    named = check_anchored(plan.dataset, key, plan.where, only)  # rules
    related = related_verifications(ctx, types, plan.dataset, plan.where)  # rules (relationships)
    ctx.ledger.require_purpose(used)  # purpose
    if only:
        await charge(ctx, named)
        normalize = {f: s.normalize for f, s in t.dataset.fields.items()}
        guesses = filter_guesses(plan.dataset, key, plan.where, only, normalize, ctx.digests)
        await spend_or_refuse(ctx, t, guesses)  # budget
    where, verified = await resolved(ctx, types, plan.dataset, plan.where, related)  # budget (relationships)
    shape = memo.get(
        ("shape", plan.node, plan.order),
        lambda: shape_connection(types, t, sel, q.fragments, q.variables, ctx.cursors, plan),
    )
    result = await run_read(ctx.sources, replace(plan, where=where))  # fetch
    # records compared: the rows a verification named; a count-only question is one probe
    compared = (named or (0 if plan.want_rows else 1)) + verified
    ctx.ledger.note(used, rows=count_rows(plan.node, result.rows), records=compared)  # note
    denied = [(d.path, Forbidden(d.message), d.nodes) for d in shape.denied]
    return Precompleted(shape.write(result, plan.where), denied)  # write


def related_verifications(
    ctx: Context, types: Types, dataset: str, where: Filter | None
) -> dict[Exists, Verification]:
    """The relationship filters of `where` that verify fields the caller may only match
    (hub/policy/related.py); FORBIDDEN for one that breaks the match rules."""
    if not has_exists(where):
        return {}
    asked = relationship_pairs(dataset, where)
    allowed = ctx.policy.decide(ctx.subject, asked | {(obj, "read") for obj, _ in asked})
    return verifications(dataset, where, allowed, keys(types))


async def resolved(
    ctx: Context, types: Types, dataset: str, where: Filter | None, verified: dict[Exists, Verification]
) -> tuple[Filter | None, int]:
    """`where` with its relationship filters answered (hub/semijoin.py), and the records
    its verifications compared, each charged to the request's and the day's comparisons
    and its guesses spent, before the target is asked."""
    if not has_exists(where):
        return where, 0
    charged: dict[str, set[Any]] = {}  # per target: the records this filter has named

    async def check(exists: Exists, named: list[Any]) -> None:
        seen = charged.setdefault(exists.target, set())
        new = [k for k in named if k not in seen]
        await charge(ctx, len(new))  # a record two tests name is one record compared
        seen.update(new)
        target = types[exists.target]
        key, normalize = target.dataset.key, {f: s.normalize for f, s in target.dataset.fields.items()}
        guesses = related_guesses(
            exists.target, key, named, verified[exists].compared, normalize, ctx.digests
        )
        await spend_or_refuse(ctx, target, guesses)

    join = Join(ctx.sources, keys(types), frozenset(verified), check)
    resolved_where = await resolve(join, dataset, where)
    return resolved_where, sum(len(named) for named in charged.values())


def keys(types: Types) -> dict[str, str]:
    return {name: t.dataset.key for name, t in types.items()}


def decide_read(
    ctx: Context, plan: ReadPlan, t: DatasetTypes, memo: StepMemo, types: Types
) -> tuple[ReadPlan, frozenset[Pair], frozenset[str]]:
    """The plan the caller's decisions leave (FORBIDDEN for a filter or sort it may not
    use), the pairs that plan uses, and the filter's fields the caller may compare but
    not read. The outcome depends on the policy in force, the subject and the plan's
    structure, never on filter values: a cached document's step keeps it under exactly
    those, so that no decision is reused for another policy version or subject."""
    policy = ctx.policy
    shape = filter_shape(plan.dataset, plan.where)
    key = (policy, policy.current_version(), ctx.subject, plan.node, plan.sort, shape)

    def decide() -> tuple[NodePlan, frozenset[Pair], frozenset[str]]:
        asked = pairs(plan) | count_pairs(plan.dataset, t.dataset.fields)
        asked |= related_count_pairs(plan.node, lambda d: types[d].dataset.fields)
        allowed = policy.decide(ctx.subject, asked | compared_read_pairs(plan.dataset, plan.where))
        restricted = restrict(plan, allowed)
        return restricted.node, frozenset(pairs(restricted)), match_only(plan.dataset, plan.where, allowed)

    node, used, only = memo.decided(key, decide)
    return replace(plan, node=node), used, only


async def match(t: DatasetTypes, info: GraphQLResolveInfo[Any], records: list[Any]) -> Precompleted:
    ctx: Context = info.context
    await charge(ctx, len(records))
    plan = match_plan(t, records)  # plan
    used = match_pairs(plan)
    readable = {(f"{plan.dataset}.{f}", "read") for f in plan.fields}
    allowed = ctx.policy.decide(ctx.subject, used | readable)  # decide
    check_match(plan, allowed)
    ctx.ledger.require_purpose(used)  # purpose
    only = [f for f in plan.fields if not allowed[(f"{plan.dataset}.{f}", "read")]]
    guesses, at = match_guesses(plan, only, ctx.digests)
    spent = await spend(ctx.guesses, ctx.subject, plan.dataset, guesses, *_budget(t))  # budget
    answers = await run_match(ctx.sources, plan)  # fetch
    ctx.ledger.note(used, records=len(plan.records))  # note
    sel = collect(info.field_nodes, info.fragments, info.variable_values)
    written = write_matches(t, sel, answers)  # write
    withheld = [where for where, ok in zip(at, spent, strict=True) if not ok]
    if not withheld:
        return Precompleted(written)
    note_limited(ctx, t, [f for _, f in withheld])
    return Precompleted(written, withhold(t, sel, written, withheld))


async def charge(ctx: Context, records: int) -> None:
    """Count `records` compared against the request's limit and the caller's daily quota."""
    ctx.ledger.charge_comparisons(records, ctx.limits.per_request)
    try:
        renews = await ctx.quotas.charge(ctx.subject, records, ctx.limits.per_day)
    except StoreUnavailable as e:
        raise AuditUnavailable(f"the hub cannot count comparisons now ({e}); try again later") from None
    if renews is not None:
        ctx.ledger.over_quota = QuotaExceeded(
            f"{ctx.subject} may have {ctx.limits.per_day} records compared a day; this request would "
            "pass that, so it is refused whole (the quota renews at 00:00 UTC)",
            retry_after=renews,
        )
        raise ctx.ledger.over_quota


def _budget(t: DatasetTypes) -> tuple[int, float]:
    return t.dataset.spec.match_guesses, t.dataset.spec.match_window_hours


async def spend_or_refuse(ctx: Context, t: DatasetTypes, guesses: list[Guess]) -> None:
    """A filter's guesses all within budget, or the whole field refused with MATCH_LIMIT."""
    spent = await spend(ctx.guesses, ctx.subject, t.dataset.qualified, guesses, *_budget(t))
    if not all(spent):
        refused = [g.field for g, ok in zip(guesses, spent, strict=True) if not ok]
        note_limited(ctx, t, refused)
        raise limit_error(t.dataset.qualified, refused[0], *_budget(t))


def note_limited(ctx: Context, t: DatasetTypes, fields: list[str]) -> None:
    """Comparisons refused for a spent budget: counted for the audit record and the
    metric, and logged for the data owner's review (subject, dataset, fields; no values)."""
    ctx.ledger.limited += len(fields)
    log.warning(
        "%s spent its guess budget on %s (%s): %d comparison(s) withheld",
        ctx.subject, t.dataset.qualified, ", ".join(sorted(set(fields))), len(fields),
    )  # fmt: skip


def withhold(
    t: DatasetTypes,
    sel: Mapping[str, Selected],
    written: list[dict[str, Any]],
    withheld: list[tuple[int, str]],
) -> list[SubError]:
    """Null each (record, field) flag past its budget, with a MATCH_LIMIT error at its
    path; the record's other flags and `found` stand."""
    keys: dict[str, list[str]] = {}
    for key, s in sel.items():
        keys.setdefault(t.fields.get(s.name, ""), []).append(key)
    errors: list[SubError] = []
    for i, f in withheld:
        for key in keys.get(f, ()):
            written[i][key] = None
            errors.append(((i, key), limit_error(t.dataset.qualified, f, *_budget(t)), sel[key].nodes))
    return errors


async def aggregate(
    types: Types, t: DatasetTypes, info: GraphQLResolveInfo[Any], args: dict[str, Any]
) -> Precompleted:
    ctx: Context = info.context
    q = FieldInputs(info.fragments, info.variable_values, ctx.max_first)
    sel = collect(info.field_nodes, q.fragments, q.variables)
    plan = aggregate_plan(t, args, sel, q, types)  # plan
    ctx.filters.check(plan.where, plan.dataset)
    fields = list(t.dataset.fields)
    related = relationship_pairs(plan.dataset, plan.where)
    reading = {(obj, "read") for obj, _ in related}
    counting = counting_pairs(plan.dataset, plan.where)
    grouping = related_group_pairs(plan)
    reading |= {(obj, "read") for obj, _ in grouping}
    asked = aggregate_pairs(plan, fields) | related | reading | counting | grouping
    allowed = ctx.policy.decide(ctx.subject, asked)  # decide
    exempt = check_aggregate(plan, fields, allowed)
    check_related_groups(grouping, allowed)
    # exact only for whoever may read every related field the filter and the groups use as well
    exempt = exempt and all(allowed.get(p) for p in reading)
    rule: Rule = "exact" if exempt else t.dataset.spec.disclosure.method
    if rule == "cell_key":
        check_perturbable(plan)
    own = {(f"{plan.dataset}.{f}", "aggregate") for f in aggregate_used(plan)} | grouping
    if related_counted(related, counting, allowed):  # the related fields are counted, not compared
        used, checked = own | counting, {}
    else:
        used = own | related
        checked = verifications(plan.dataset, plan.where, allowed, keys(types))  # rules (relationships)
    ctx.ledger.require_purpose(used)  # purpose
    where, verified = await resolved(ctx, types, plan.dataset, plan.where, checked)  # budget (relationships)
    plan = replace(plan, where=where)
    counts, rows, rule = await fetch_groups(
        ctx.sources, ctx.disclosure_key, t, plan, rule, keys(types), ctx.groups
    )  # fetch
    note_aggregate(ctx, t, used, counts, rule, verified)  # note
    return Precompleted(write_groups(t, plan, sel, rows, rule, q, types))  # write


def note_aggregate(
    ctx: Context, t: DatasetTypes, used: set[Pair], counts: list[int], rule: Rule, compared: int = 0
) -> None:
    """An aggregate over non-public fields is recorded whatever its groups published,
    with the method that protected it; `counts`: the true counts the answer speaks of,
    `compared`: the records its relationship filters verified."""
    private = bool(ctx.ledger.private(used))
    shown, hidden = counts, 0
    if rule == "suppress":
        shown = [c for c in counts if c >= t.dataset.spec.min_group_size]
        hidden = len(counts) - len(shown)
    if private and rule != "exact":
        ctx.ledger.disclosure.add(f"{t.dataset.qualified}:{rule}")
    records = (hidden if private else 0) + compared
    ctx.ledger.note(used, rows=sum(shown), records=records, released=bool(shown) or private)
