"""Relationship filters under the policy (docs/design.md §5; hub/policy/access.py
`filter_uses`, hub/policy/related.py): random reads of residents and of welfare
recipients whose `where` follows the relationship between them (to-many
`{penerimaBansos: {some | none | every: {...}}}`, to-one `{penduduk: {...}}` and
`{penduduk: {exists: false}}`, nested two deep) with a few comparisons of two fields
(`{anak: {gtField: "tinggi"}}`, `{nominal: {gtField: "penduduk.saldo"}}`), asked over
HTTP by the random subjects of tests/support/authz.py's town, held to an oracle written
here in plain Python:

1. a filter that needs a right its caller lacks is FORBIDDEN, naming an object the
   caller indeed lacks that right on, and no row of that field comes back;
2. an allowed filter returns exactly the rows the oracle's evaluation of it selects
   (EXISTS for relationships; a comparison never holds for NULL but `neq`/`nin`, a
   comparison of two fields only `neqField`; `not` two-valued), and only values the
   caller may read (tests/test_authorization_reads.py's `assert_no_leak` besides);
3. a verification (a related field the caller may compare but not read) that breaks
   its rules is FORBIDDEN: nothing leaks through which rows a filter selects.

The rules the oracle holds the hub to:

- a comparison with a value needs `match` for `eq`/`in` outside negation, `read`
  otherwise: `not` negates (twice, it cancels); under a negated relationship filter
  (`none`, `every`, `not` of `some` or of a to-one one) every comparison needs `read`,
  whatever `not` it holds (hub/policy/access.py `filter_uses`);
- a relationship filter needs `match` on both join fields, whatever it holds;
- a comparison of two fields needs `read` on both (through `penduduk.` too, whose
  relationship needs its join fields);
- own fields the caller may only match: the filter names its rows by the key at the top
  level (`and` only) and compares each such field with one value there;
- a relationship filter using a related field (the target's join field included) that
  the caller may only match is a verification: the relationship must lead to the
  target's key (recipients -> residents does, residents -> recipients does not), and
  each such field is compared with one value (`eq`, one-element `in`) at the top level
  (`and` only) of the relationship's filter, nothing it may only match anywhere else in
  it.

Verifications charge records compared and guesses (three values per resident and field
a day); the values the generator compares with `eq`/`in` are mostly three per field, so
MATCH_LIMIT is rare: it and BAD_USER_INPUT are accepted as refusals of a verification
that guesses (or names records), counted, and bounded by the second test.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar, cast

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hub.catalog import Catalog
from tests.support.authz import (
    ALL_FIELDS,
    DINSOS,
    DUKCAPIL,
    NAMED,
    PENDUDUK,
    PENERIMA,
    PEOPLE,
    POLICY,
    PROPERTY_SUBJECTS,
    RECIPIENTS,
    RESIDENTS,
    Town,
    forbidden,
)
from tests.support.catalogs import penerima_bansos
from tests.support.policy_oracle import Oracle, RuleSet
from tests.test_authorization_reads import COMPARE, OPS, as_input, as_json, assert_no_leak

T = TypeVar("T")

# --- the two datasets, as the API shows them ------------------------------------------------------


class Side:
    """A dataset, its rows and its relationship to the other (joined nik = nik)."""

    def __init__(
        self, name: str, qualified: str, opd: str, connection: str, where_type: str,
        fields: dict[str, tuple[str, str, str]], rows: list[dict[str, Any]], key: str,
        relationship: str, many: bool,
    ) -> None:  # fmt: skip
        self.name = name  # R (residents) | B (recipients)
        self.qualified, self.opd, self.connection, self.where_type = qualified, opd, connection, where_type
        self.fields = fields  # graphql name -> (catalog field, row key, type)
        self.rows, self.key, self.relationship, self.many = rows, key, relationship, many

    def __repr__(self) -> str:
        return self.name

    def obj(self, name: str) -> str:
        return f"{self.qualified}.{self.fields[name][0]}"

    def value(self, row: dict[str, Any], name: str) -> Any:
        return row[self.fields[name][1]]

    def type(self, name: str) -> str:
        return self.fields[name][2]


R = Side("R", DUKCAPIL, "dukcapil", "penduduk", "DukcapilPendudukWhere", PENDUDUK, PEOPLE, "nik", "penerimaBansos", True)  # fmt: skip
B = Side("B", DINSOS, "dinsos", "penerimaBansos", "DinsosPenerimaBansosWhere", PENERIMA, RECIPIENTS, "id", "penduduk", False)  # fmt: skip
OTHER = {"R": B, "B": R}
JOIN = "nik"  # both sides' join field; residents' is their key, recipients' is not

PERSON = {p["nik"]: p for p in PEOPLE}
GRANTS: dict[str, list[dict[str, Any]]] = {}
for _g in sorted(RECIPIENTS, key=lambda r: r["id"]):
    GRANTS.setdefault(_g["nik"], []).append(_g)


def related_rows(side: Side, row: dict[str, Any]) -> list[dict[str, Any]]:
    if side is R:
        return GRANTS.get(row["nik"], [])
    return [PERSON[row["nik"]]] if row["nik"] in PERSON else []


def stored(side: Side, name: str) -> list[Any]:
    return sorted({side.value(r, name) for r in side.rows if side.value(r, name) is not None}, key=repr)


def common(side: Side, name: str, n: int = 3) -> list[Any]:
    """The `n` values of `name` most common among rows that have a related row: what `eq`
    and `in` compare with (few values per field: few guesses per record)."""
    linked = [r for r in side.rows if related_rows(side, r)]
    counts = Counter(side.value(r, name) for r in linked if side.value(r, name) is not None)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], repr(kv[0])))[:n]]


STORED = {s.name: {f: stored(s, f) for f in s.fields} for s in (R, B)}
POOL = {s.name: {f: common(s, f) for f in s.fields} for s in (R, B)}
POOL["R"]["kecamatan"] = common(R, "kecamatan", 4)  # one value past the budget
# keys that name rows at the top level of a filter (the key itself is not a guess)
_linked = [p["nik"] for p in PEOPLE if p["nik"] in GRANTS]
ANCHORS = {
    "R": _linked[:5] + [p["nik"] for p in PEOPLE if p["nik"] not in GRANTS][:3],
    "B": [1, 2, 5, 11, 42, 77, 150, 300],
}


# --- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    name: str
    op: str
    value: Any  # python value; a tuple for in/nin, a pattern for like, a bool for isNull


@dataclass(frozen=True)
class Fields:
    """`{name: {<op>Field: other}}`; `related`: other is the resident's (`penduduk.other`)."""

    name: str
    op: str
    other: str
    related: bool = False


@dataclass(frozen=True)
class Both:
    kind: str  # and | or
    parts: tuple[Node, ...]
    merged: bool = False  # an `and` written as one object (when its keys differ)


@dataclass(frozen=True)
class Negate:
    part: Node


@dataclass(frozen=True)
class Related:
    quantifier: str  # to-one: has | absent; to-many: some | none | every
    where: Node | None
    explicit: bool = False  # to-one `has`: written with `exists: true`


Node = Compare | Fields | Both | Negate | Related


def value_holds(v: Any, op: str, value: Any) -> bool:
    if op == "isNull":
        return (v is None) is value
    if v is None:
        return op in ("neq", "nin")  # the hub's two-valued logic
    if op == "like":
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
        return re.fullmatch(regex, v, re.IGNORECASE | re.DOTALL) is not None
    return bool(COMPARE[op](v, value))


def fields_hold(a: Any, op: str, b: Any) -> bool:
    """Two fields compared as SQL compares them; a NULL on either side holds only for neq."""
    if a is None or b is None:
        return op == "neq"
    if isinstance(a, float) and isinstance(b, Decimal):
        b = float(b)
    elif isinstance(a, Decimal) and isinstance(b, float):
        a = float(a)
    return bool(COMPARE[op](a, b))


def holds(node: Node, side: Side, row: dict[str, Any]) -> bool:
    """The oracle: whether `row` of `side` passes `node`."""
    if isinstance(node, Compare):
        return value_holds(side.value(row, node.name), node.op, node.value)
    if isinstance(node, Fields):
        if not node.related:
            return fields_hold(side.value(row, node.name), node.op, side.value(row, node.other))
        people = related_rows(side, row)  # a row without a related row holds for none
        return bool(people) and fields_hold(
            side.value(row, node.name), node.op, R.value(people[0], node.other)
        )
    if isinstance(node, Both):
        results = [holds(p, side, row) for p in node.parts]
        return all(results) if node.kind == "and" else any(results)
    if isinstance(node, Negate):
        return not holds(node.part, side, row)
    target = OTHER[side.name]
    where = node.where
    passing = [where is None or holds(where, target, r) for r in related_rows(side, row)]
    if node.quantifier in ("has", "some"):
        return any(passing)
    if node.quantifier in ("absent", "none"):
        return not any(passing)
    return all(passing)  # every: true where there is no related row


def render(node: Node, side: Side) -> dict[str, Any]:
    """The node as a `where` of `side`."""
    if isinstance(node, Compare):
        type_ = side.type(node.name)
        if node.op in ("in", "nin"):
            value: Any = [as_input(type_, v) for v in node.value]
        elif node.op in ("isNull", "like"):
            value = node.value
        else:
            value = as_input(type_, node.value)
        return {node.name: {node.op: value}}
    if isinstance(node, Fields):
        return {node.name: {f"{node.op}Field": ("penduduk." if node.related else "") + node.other}}
    if isinstance(node, Both):
        parts = [render(p, side) for p in node.parts]
        keys = [k for p in parts for k in p]
        if node.kind == "and" and node.merged and len(keys) == len(set(keys)):
            return {k: v for p in parts for k, v in p.items()}
        return {node.kind: parts}
    if isinstance(node, Negate):
        return {"not": render(node.part, side)}
    target = OTHER[side.name]
    inner = {} if node.where is None else render(node.where, target)
    if node.quantifier == "absent":
        inner = {"exists": False}
    elif node.quantifier == "has" and node.explicit:
        inner = {"exists": True, **inner}
    elif side.many:
        inner = {node.quantifier: inner}
    return {side.relationship: inner}


def values_given(node: Node | None, side: Side) -> Iterator[str]:
    """The values a filter compares with, as the API writes them."""
    if isinstance(node, Compare) and node.op != "isNull":
        for v in node.value if node.op in ("in", "nin") else [node.value]:
            yield str(as_json(side.type(node.name), v))
    elif isinstance(node, Both):
        for p in node.parts:
            yield from values_given(p, side)
    elif isinstance(node, Negate):
        yield from values_given(node.part, side)
    elif isinstance(node, Related):
        yield from values_given(node.where, OTHER[side.name])


# --- the oracle of the policy's rules --------------------------------------------------------------

Use = tuple[str, str]  # (object, action)


def uses(node: Node | None, side: Side, negated: bool = False, fixed: bool = False) -> list[Use]:
    """What `node` asks of the policy, per the rules in the module's docstring (`fixed`:
    under a negated relationship filter, where every comparison needs `read`)."""
    if node is None:
        return []
    if isinstance(node, Compare):
        plain = node.op in ("eq", "in") and not negated and not fixed
        return [(side.obj(node.name), "match" if plain else "read")]
    if isinstance(node, Fields):
        if not node.related:
            return [(side.obj(node.name), "read"), (side.obj(node.other), "read")]
        return [(B.obj(JOIN), "match"), (R.obj(JOIN), "match"), (B.obj(node.name), "read"), (R.obj(node.other), "read")]  # fmt: skip
    if isinstance(node, Both):
        return [u for p in node.parts for u in uses(p, side, negated, fixed)]
    if isinstance(node, Negate):
        return uses(node.part, side, not negated, fixed)
    target = OTHER[side.name]
    joins = [(side.obj(JOIN), "match"), (target.obj(JOIN), "match")]
    # some/has: EXISTS (w); none/absent: NOT EXISTS (w); every: NOT EXISTS (NOT w)
    exists_negated = negated != (node.quantifier in ("none", "absent", "every"))
    return joins + uses(node.where, target, node.quantifier == "every", fixed or exists_negated)


def own_compares(node: Node, top: bool = True, negated: bool = False) -> Iterator[tuple[Compare, bool, bool]]:
    """The comparisons of the filtered dataset's own fields with values: (comparison, at
    the top level, negated)."""
    if isinstance(node, Compare):
        yield node, top, negated
    elif isinstance(node, Both):
        for p in node.parts:
            yield from own_compares(p, top and node.kind == "and", negated)
    elif isinstance(node, Negate):
        yield from own_compares(node.part, False, not negated)


def outer_related(node: Node) -> Iterator[Related | Fields]:
    """The relationship filters directly in a filter (not inside another), comparisons
    with a related field included."""
    if isinstance(node, Related) or (isinstance(node, Fields) and node.related):
        yield node
    elif isinstance(node, Both):
        for p in node.parts:
            yield from outer_related(p)
    elif isinstance(node, Negate):
        yield from outer_related(node.part)


def conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, Both) and node.kind == "and":
        return [c for p in node.parts for c in conjuncts(p)]
    return [node]


@dataclass(frozen=True)
class Verdict:
    kind: str  # lacking | breach | answer
    objects: frozenset[str]  # lacking / breach: what the FORBIDDEN may name
    verifying: bool = False  # records are compared (named by the key or by a relationship)
    guessing: bool = False  # and values guessed for them
    # breach: the refusals a verification of own fields, spent before relationship
    # filters are verified (hub/gql/pipeline.py `read`), may give first
    spent_first: frozenset[str] = frozenset()


def judge(may: Callable[[str, str], bool], side: Side, where: Node) -> Verdict:
    used = uses(where, side)
    lacking = frozenset(o for o, a in used if not may(o, a))
    if lacking:
        return Verdict("lacking", lacking)
    unreadable = {o for o, _ in used if not may(o, "read")}
    breach, verifying, guessing, spent_first = False, False, False, frozenset[str]()
    # own fields the caller may only match: rows named by the key, one value each
    own = list(own_compares(where))
    only = {
        c.name
        for c, _, negated in own
        if c.op in ("eq", "in") and not negated and not may(side.obj(c.name), "read")
    }
    if only:
        verifying, guessing = True, bool(only - {side.key})
        named = any(c.name == side.key and c.op in ("eq", "in") for c, top, _ in own if top)
        one_each = all(
            top and (c.name == side.key or c.op == "eq" or len(c.value) == 1)
            for c, top, _ in own
            if c.name in only
        )
        breach = not (named and one_each)
        if not breach:
            spent_first = frozenset({"BAD_USER_INPUT", *(["MATCH_LIMIT"] if guessing else [])})
    objects = set(unreadable)
    # related fields the caller may only match: verifications
    for rel in outer_related(where):
        if isinstance(rel, Fields):
            target, objs = R, [B.obj(rel.name), R.obj(rel.other)]
        else:
            target = OTHER[side.name]
            objs = [o for o, _ in uses(rel.where, target)]
        if may(target.obj(JOIN), "read") and all(may(o, "read") for o in objs):
            continue
        verifying = True
        if target is B:  # the relationship does not lead to the recipients' key
            breach = True
            objects.add(B.obj(JOIN))
            continue
        for part in conjuncts(rel.where if isinstance(rel, Related) else None):
            if isinstance(part, Compare):
                if may(R.obj(part.name), "read"):
                    continue
                guessing = True
                breach |= part.op == "in" and len(part.value) != 1
            elif isinstance(part, Fields):
                continue  # both fields readable (else lacking)
            else:
                breach |= any(not may(o, "read") for o, _ in uses(part, R))
    if breach:
        return Verdict("breach", frozenset(objects), verifying, guessing, spent_first)
    return Verdict("answer", frozenset(), verifying, guessing)


# --- random reads ----------------------------------------------------------------------------------


def static_rights() -> Oracle:
    """The oracle of the town's policy without the town (its catalog's classifications
    and OPDs, as tests/support/authz.py writes them), to weight the subjects drawn."""
    specs = {DUKCAPIL: RESIDENTS, DINSOS: penerima_bansos()}
    catalog = SimpleNamespace(
        datasets={
            qualified: SimpleNamespace(
                fields={
                    n: SimpleNamespace(classification=f["classification"]) for n, f in spec["fields"].items()
                }
            )
            for qualified, spec in specs.items()
        },
        files={"dukcapil": None, "dinsos": None},
    )
    return Oracle(RuleSet.parse(POLICY), cast(Catalog, catalog))


RIGHTS = static_rights()
SUBJECTS = PROPERTY_SUBJECTS + NAMED
# who may compare both join fields
JOINABLE = [s for s in SUBJECTS if all(RIGHTS.allows(s, side.obj(JOIN), "match") for side in (R, B))]
# and may compare some resident's field it may not read: its relationship filters verify
VERIFIERS = [
    s
    for s in JOINABLE
    if any(RIGHTS.allows(s, R.obj(n), "match") and not RIGHTS.allows(s, R.obj(n), "read") for n in R.fields)
]


class Draw(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...
    def number(self, lo: int, hi: int) -> int: ...
    def chance(self, percent: int) -> bool: ...


class HypothesisDraw:
    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def pick(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def number(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent  # shrinks to False


class SeededDraw:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def pick(self, options: Sequence[T]) -> T:
        return self.rnd.choice(options)

    def number(self, lo: int, hi: int) -> int:
        return self.rnd.randint(lo, hi)

    def chance(self, percent: int) -> bool:
        return self.rnd.random() * 100 < percent


def kind_of(type_: str) -> str:
    return "number" if type_ in ("integer", "float", "decimal") else type_


class Gen:
    """Random filters for one subject: three fields in four are ones it may compare (or
    read, for a comparison of two fields), so that not every filter is refused."""

    def __init__(self, d: Draw, subject: str) -> None:
        self.d, self.subject = d, subject

    def field(self, side: Side, action: str, names: Sequence[str] | None = None) -> str:
        names = list(side.fields) if names is None else list(names)
        usable = [n for n in names if RIGHTS.allows(self.subject, side.obj(n), action)]
        return self.d.pick(usable if usable and not self.d.chance(15) else names)

    def compare(self, side: Side) -> Compare:
        d = self.d
        name = self.field(side, "match")
        equal = not RIGHTS.allows(self.subject, side.obj(name), "read") and d.chance(75)
        ops = OPS[side.type(name)]
        op = d.pick([op for op in ops if op in ("eq", "in")] if equal else ops)
        pool, everything = POOL[side.name][name], STORED[side.name][name]
        if op == "isNull":
            return Compare(name, op, d.chance(50))
        if op in ("in", "nin"):
            source = pool if op == "in" and not d.chance(5) else everything
            values = [d.pick(source) for _ in range(d.number(1, 3))]
            return Compare(name, op, tuple(dict.fromkeys(values)))
        if op == "like":
            v = d.pick(everything)
            i = d.number(0, len(v) - 1)
            return Compare(name, op, "%" + v[i : d.number(i + 1, min(len(v), i + 4))] + "%")
        if op == "eq":  # rarely a value beside the three of the pool: a guess past the budget
            return Compare(name, op, d.pick(everything if d.chance(5) else pool))
        return Compare(name, op, d.pick(everything))

    def fields(self, side: Side, depth: int) -> Fields:
        related = side is B and depth < 2 and self.d.chance(50)
        name = self.field(side, "read")
        kind = kind_of(side.type(name))
        target = R if related else side
        other = self.field(target, "read", [n for n in target.fields if kind_of(target.type(n)) == kind])
        ops = ["eq", "neq"] if kind == "boolean" else ["eq", "neq", "lt", "lte", "gt", "gte"]
        return Fields(name, self.d.pick(ops), other, related)

    def related(self, side: Side, depth: int) -> Related:
        d, target = self.d, OTHER[side.name]
        if side.many:
            quantifier = d.pick(["some", "none", "every"])
            empty = quantifier != "every" and d.chance(25)
            return Related(quantifier, None if empty else self.where(target, depth + 1))
        if d.chance(15):
            return Related("absent", None)
        where = None if d.chance(15) else self.where(target, depth + 1)
        return Related("has", where, explicit=where is None or d.chance(25))

    def where(self, side: Side, depth: int) -> Node:
        """A relationship's own filter: mostly a few conjuncts, as verifications are."""
        parts = tuple(self.part(side, depth, 1) for _ in range(self.d.number(1, 3)))
        return parts[0] if len(parts) == 1 else Both("and", parts, self.d.chance(60))

    def part(self, side: Side, depth: int, level: int) -> Node:
        roll = self.d.number(0, 11)
        if roll <= 5 or (roll >= 9 and level == 0) or (roll in (7, 8) and depth >= 2):
            return self.compare(side)
        if roll == 6:
            return self.fields(side, depth)
        if roll in (7, 8):
            return self.related(side, depth)
        if roll == 11:
            return Negate(self.part(side, depth, level - 1))
        parts = tuple(self.part(side, depth, level - 1) for _ in range(self.d.number(2, 3)))
        return Both("and" if roll == 9 else "or", parts, self.d.chance(50))


@dataclass(frozen=True)
class Read:
    subject: str
    side: Side
    where: Node
    first: int

    def query(self) -> str:
        s = self.side
        return (
            f"query($where: {s.where_type}, $first: Int) {{ {s.opd} {{"
            f" {s.connection}(where: $where, first: $first) {{ totalCount nodes {{ {' '.join(s.fields)} }} }} }} }}"
        )

    def variables(self) -> dict[str, Any]:
        return {"where": render(self.where, self.side), "first": self.first}

    def given(self) -> set[str]:
        return set(values_given(self.where, self.side))


def gen_read(d: Draw) -> Read:
    subject = d.pick(VERIFIERS if d.chance(50) else JOINABLE) if d.chance(75) else d.pick(SUBJECTS)
    side = d.pick([B, B, R])
    g = Gen(d, subject)
    first: Node = g.fields(side, 0) if side is B and d.chance(15) else g.related(side, 0)
    parts = [first, *(g.part(side, 0, 2) for _ in range(d.number(0, 2)))]
    if d.chance(25):  # rows named by the key
        anchors = ANCHORS[side.name]
        key = Compare(side.key, "eq", d.pick(anchors))
        if d.chance(50):
            key = Compare(
                side.key, "in", tuple(dict.fromkeys(d.pick(anchors) for _ in range(d.number(1, 4))))
            )
        parts.insert(d.number(0, len(parts)), key)
    how = d.pick(["and", "and", "and", "or", "not"])
    where: Node = (
        parts[0] if len(parts) == 1 else Both("or" if how == "or" else "and", tuple(parts), d.chance(50))
    )
    if how == "not":
        where = Negate(where)
    return Read(subject, side, where, d.pick([1000, 1000, 1000, d.number(1, 40)]))


@st.composite
def reads(draw: st.DrawFn) -> Read:
    return gen_read(HypothesisDraw(draw))


# --- asking the hub --------------------------------------------------------------------------------


async def check(town: Town, q: Read) -> str:
    """Ask `q` and hold the answer to the oracle; the outcome, for counting."""
    side = q.side

    def may(obj: str, action: str) -> bool:
        return town.may(q.subject, obj, action)

    r = await town.clients[q.subject].post("/graphql", json={"query": q.query(), "variables": q.variables()})
    verdict = judge(may, side, q.where)
    if r.status_code == 429:  # the day's quota of records compared: only a verification spends it
        assert verdict.verifying, r.text
        return "limited: over the quota"
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert "data" in body, body
    assert_no_leak(town, q.subject, r.text, body, q.given())
    page = body["data"][side.opd][side.connection]
    at = [side.opd, side.connection]

    if verdict.kind != "answer":
        assert page is None, body
        errors = body.get("errors", [])
        assert len(errors) == 1, body
        (error,) = errors
        assert error["path"] == at, error
        if error["extensions"]["code"] in verdict.spent_first:
            return f"limited: {error['extensions']['code']}"
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert error["extensions"]["object"] in verdict.objects, (error, sorted(verdict.objects))
        return "forbidden: a right missing" if verdict.kind == "lacking" else "forbidden: a verification"

    if page is None:  # a verification past its budget or the request's records
        (error,) = body["errors"]
        code = error["extensions"]["code"]
        assert error["path"] == at, error
        assert (code == "MATCH_LIMIT" and verdict.guessing) or (
            code == "BAD_USER_INPUT" and verdict.verifying
        ), body["errors"]
        return f"limited: {code}"

    def shown(row: dict[str, Any]) -> dict[str, Any]:
        return {
            f: as_json(side.type(f), side.value(row, f)) if may(side.obj(f), "read") else None
            for f in side.fields
        }

    matching = sorted((row for row in side.rows if holds(q.where, side, row)), key=lambda row: row[side.key])
    denied = [[*at, "nodes", f] for f in side.fields if not may(side.obj(f), "read")]
    assert sorted(forbidden(body)) == sorted(denied), body.get("errors")
    assert page["totalCount"] == len(matching)
    assert page["nodes"] == [shown(row) for row in matching[: q.first]]
    return f"answered{', verified' if verdict.verifying else ''}, {'some' if matching else 'no'} rows"


def test_the_subjects_drawn_are_those_of_the_town(town: Town) -> None:
    """The weighting of subjects uses the policy's oracle without the town: it is the town's."""
    for s in SUBJECTS:
        for obj in ALL_FIELDS:
            for action in ("read", "match"):
                assert RIGHTS.allows(s, obj, action) == town.may(s, obj, action), (s, obj, action)
    assert 5 <= len(JOINABLE) <= len(SUBJECTS) - 5, JOINABLE


@settings(max_examples=300, deadline=None, derandomize=True)
@given(q=reads())
async def test_random_relationship_filters_release_exactly_what_the_policy_allows(
    town: Town, q: Read
) -> None:
    event(await check(town, q))


async def test_most_random_relationship_reads_are_answered(town: Town) -> None:
    """The same reads, drawn from a seed: refusals by the guess budget and the request's
    records stay rare, and every kind of outcome occurs."""
    draw = SeededDraw(1931)
    outcomes = Counter[str]()
    for _ in range(200):
        q = gen_read(draw)
        try:
            outcomes[await check(town, q)] += 1
        except AssertionError as e:
            raise AssertionError(f"{q.subject} reads {q.side.connection} {q.variables()}") from e
    kinds = Counter(o.split(":")[0].split(",")[0] for o in outcomes.elements())
    assert kinds["limited"] <= 10, outcomes
    assert kinds["answered"] >= 60, outcomes
    assert sum(n for o, n in outcomes.items() if o.startswith("answered, verified")) >= 5, outcomes
    assert sum(n for o, n in outcomes.items() if o.endswith(", some rows")) >= 40, outcomes
    assert outcomes["forbidden: a right missing"] >= 20 and outcomes["forbidden: a verification"] >= 5, (
        outcomes
    )


# --- the rules, case by case -------------------------------------------------------------------


def subject_where(town: Town, test: Callable[[Callable[[str, str], bool]], bool]) -> str:
    """A subject of the town whose rights pass `test` (given its `may(obj, action)`)."""
    for s in SUBJECTS:
        if test(lambda obj, action, s=s: town.may(s, obj, action)):
            return s
    raise AssertionError("no such subject in tests/support/authz.py's policy")


async def test_under_every_an_equality_asks_for_read(town: Town) -> None:
    """`every: {program: {eq: "PKH"}}` holds for a resident none of whose grants has
    another program: it asks what `none: {program: {neq: "PKH"}}` asks, and `none` and
    `every` negate what they hold (hub/policy/access.py's `filter_uses`). A caller who
    may compare the recipients' programs but not read them lacks `read` on the program."""
    subject = subject_where(
        town,
        lambda may: (
            may(B.obj("program"), "match")
            and not may(B.obj("program"), "read")
            and all(may(side.obj(JOIN), "read") for side in (R, B))
        ),
    )
    pkh = Compare("program", "eq", "PKH")
    # every, and what says the same: a second `not` inside a negated relationship does
    # not make the equality an equality again
    for where in (
        Related("none", pkh),
        Related("every", pkh),
        Related("none", Negate(pkh)),
        Negate(Related("some", Negate(pkh))),
    ):
        q = Read(subject, R, where, 1000)
        verdict = judge(lambda obj, action: town.may(subject, obj, action), R, q.where)
        assert verdict == Verdict("lacking", frozenset({B.obj("program")})), where
        assert await check(town, q) == "forbidden: a right missing", where


async def test_a_conjunct_of_a_conjunct_is_at_the_top_level_of_a_relationship_filter(town: Town) -> None:
    """`and` nested in `and` is still the top level: the own fields' rule sees it so
    (hub/policy/access.py `check_anchored`), and so must the relationship's."""
    subject = subject_where(
        town,
        lambda may: (
            may(R.obj("nik"), "match")
            and not may(R.obj("nik"), "read")
            and may(B.obj(JOIN), "match")
            and all(may(R.obj(f), "read") for f in ("kecamatan", "statusHidup"))
        ),
    )
    nik = next(n for n in POOL["R"]["nik"] if PERSON[n]["kecamatan"] is not None)
    parts = (Compare("nik", "eq", nik), Compare("kecamatan", "eq", PERSON[nik]["kecamatan"]))
    alive = Compare("statusHidup", "eq", PERSON[nik]["is_alive"])
    flat = Read(subject, B, Related("has", Both("and", (*parts, alive), merged=True)), 1000)
    assert await check(town, flat) == "answered, verified, some rows"
    nested = Read(subject, B, Related("has", Both("and", (Both("and", parts, merged=True), alive))), 1000)
    assert nested.variables()["where"] == {
        "penduduk": {"and": [{"nik": {"eq": nik}, "kecamatan": {"eq": PERSON[nik]["kecamatan"]}}, {"statusHidup": {"eq": PERSON[nik]["is_alive"]}}]}
    }  # fmt: skip
    # the same nesting of the residents' own fields, by user:checker (who may only compare NIKs and names)
    checker = Read("user:checker", R, Both("and", (Both("and", (parts[0], Compare("nama", "eq", PERSON[nik]["nama"])), merged=True), parts[1])), 1000)  # fmt: skip
    assert await check(town, checker) == "answered, verified, some rows"
    assert await check(town, nested) == "answered, verified, some rows"


async def test_a_verification_past_the_guess_budget_is_refused_whole(town: Town) -> None:
    """Five kecamatan verified in turn for the same residents (every recipient's): past
    three values per resident, MATCH_LIMIT, and nothing of the field. (Last: it spends
    the subject's budget on kecamatan for good.)"""
    subject = subject_where(
        town,
        lambda may: (
            may(R.obj("kecamatan"), "match")
            and not may(R.obj("kecamatan"), "read")
            and all(may(side.obj(JOIN), "match") for side in (R, B))
        ),
    )
    outcomes = Counter[str]()
    for k in ["Meral", "Karimun", "Tebing", "Kundur", "Moro"]:
        q = Read(subject, B, Related("has", Compare("kecamatan", "eq", k)), 1000)
        assert judge(lambda obj, action: town.may(subject, obj, action), B, q.where).guessing
        outcomes[await check(town, q)] += 1
    assert outcomes["limited: MATCH_LIMIT"] >= 2, outcomes


async def test_a_refused_verification_spends_nothing(town: Town) -> None:
    """A request whose own fields verify within the rules but whose relationship filter
    breaks them is FORBIDDEN before anything is charged: four such requests, each with
    another guess at a resident's name, leave the day's three guesses for that resident
    whole (hub/gql/pipeline.py `read` checks every rule, then charges)."""
    subject = subject_where(
        town,
        lambda may: (
            may(R.obj("nama"), "match")
            and not may(R.obj("nama"), "read")
            and may(R.obj("nik"), "match")
            and may(B.obj("program"), "match")
            and not may(B.obj("program"), "read")
            and all(may(side.obj(JOIN), "match") for side in (R, B))
        ),
    )
    used = set(ANCHORS["R"]) | set(POOL["R"]["nik"])
    person = next(p for p in reversed(PEOPLE) if p["nik"] not in used and p["nik"] in GRANTS)
    query = "query($where: DukcapilPendudukWhere) { dukcapil { penduduk(where: $where) { totalCount } } }"

    async def ask(nama: str, related: bool) -> dict[str, Any]:
        where: dict[str, Any] = {"nik": {"eq": person["nik"]}, "nama": {"eq": nama}}
        if related:  # residents -> recipients does not lead to a key: no verification through it
            where["penerimaBansos"] = {"some": {"program": {"eq": "PKH"}}}
        return await town.post(subject, query, {"where": where})

    for guess in ("Guess A", "Guess B", "Guess C", "Guess D"):
        body = await ask(guess, related=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        assert body["errors"][0]["extensions"]["object"] == B.obj(JOIN), body
    answers = [await ask(nama, related=False) for nama in ("Guess A", person["nama"], "Guess B", "Guess C")]
    assert [a["data"]["dukcapil"]["penduduk"]["totalCount"] for a in answers[:3]] == [0, 1, 0], answers
    assert [e["extensions"]["code"] for e in answers[3]["errors"]] == ["MATCH_LIMIT"], answers[3]
