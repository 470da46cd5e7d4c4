"""Who may do what with which field: Casbin decides, the hub caches (docs/design.md §5).

How rules resolve (also written in `policies/model.conf`):

1. A request is (subject, object, action): `opd:dinsos`, `dukcapil.penduduk.nik`, `match`.
2. A rule matches when its subject is the caller, one of the caller's roles (`g`)
   or `*`; its object is the field, a `prefix*` of it, or the field's classification
   group (`class:confidential`, generated from the catalog as `g2`); and its action
   is the action or `*`.
3. Allowed when some `allow` rule matches and no `deny` rule does. No rule: denied.
4. Every OPD may do everything with its own datasets: the hub adds
   `p, opd:<id>, <id>.*, *, allow` for each OPD in the catalog.
5. `read` implies `match` and `aggregate` (who may see a value may compare and count
   it), and `match` implies `join` (who may compare a value may join a relationship
   on it), unless a `deny` rule names that action.

Decisions are made lazily, once per (subject, object, action) and policy version,
then served from a cache. For the shipped model they come from the rules compiled
into lookups (`hub.policy.index`, held to Casbin's `enforce()` by a test); for any
other model, from Casbin's `enforce()` itself. The policy files are checked
for changes at most every `check_interval` seconds; a file that does not parse is
reported in the log and the last good policy stays in force.
"""

from __future__ import annotations

import bisect
import csv
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hub.catalog import Catalog
from hub.errors import PolicyError, PolicyProblem
from hub.policy.index import PolicyIndex, is_standard

if TYPE_CHECKING:  # imported when an enforcer is built: the shipped model never needs one to serve
    import casbin

log = logging.getLogger("hub.policy")
ACTIONS = ("read", "match", "aggregate", "join")
Pair = tuple[str, str]  # (object, action)


@dataclass(frozen=True)
class Rules:
    p: list[list[str]]
    g: list[list[str]]
    g2: list[list[str]]


def read_rules(path: Path, catalog: Catalog | None = None) -> Rules:
    """Parse `policy.csv`; raise PolicyError naming each bad line. With the catalog, a
    rule whose object matches no field of it is a problem too: a misspelt object
    would otherwise match nothing in silence (and a misspelt deny deny nothing)."""
    problems: list[PolicyProblem] = []
    rules = Rules([], [], [])
    pending: list[tuple[int, str]] = []  # (line, object) of the p rules, checked once all g2 are read
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PolicyError([PolicyProblem(str(path), 0, f"cannot read: {e.strerror}")]) from None
    for number, row in enumerate(csv.reader(text.splitlines(), skipinitialspace=True), start=1):
        row = [c.strip() for c in row]
        if not row or not row[0] or row[0].startswith("#"):
            continue
        kind, values = row[0], row[1:]
        if kind == "p":
            if len(values) != 4:
                problems.append(
                    PolicyProblem(str(path), number, "a p rule is `p, subject, object, action, allow|deny`")
                )
            elif values[3] not in ("allow", "deny"):
                problems.append(
                    PolicyProblem(str(path), number, f"effect must be allow or deny, not {values[3]!r}")
                )
            elif values[2] not in (*ACTIONS, "*"):
                problems.append(
                    PolicyProblem(
                        str(path),
                        number,
                        f"action must be read, match, aggregate, join or *, not {values[2]!r}",
                    )
                )
            elif not values[0] or not values[1]:
                problems.append(PolicyProblem(str(path), number, "a p rule needs a subject and an object"))
            else:
                rules.p.append(values)
                pending.append((number, values[1]))
        elif kind in ("g", "g2"):
            if len(values) != 2 or not all(values):
                problems.append(PolicyProblem(str(path), number, f"a {kind} line is `{kind}, member, group`"))
            else:
                (rules.g if kind == "g" else rules.g2).append(values)
        else:
            problems.append(PolicyProblem(str(path), number, f"unknown rule type {kind!r} (p, g or g2)"))
    if catalog is not None:
        groups = {group for _, group in rules.g2} | {f"class:{c}" for c in catalog.classification.values()}
        names = sorted(catalog.classification)
        for number, obj in pending:
            if not _matches_some_field(obj, names, groups):
                classes = ", ".join(sorted(g for g in groups if g.startswith("class:")))
                problems.append(
                    PolicyProblem(
                        str(path),
                        number,
                        f"object {obj!r} matches no field of the catalog (its classes: {classes})",
                    )
                )
    if problems:
        raise PolicyError(problems)
    return rules


def _matches_some_field(obj: str, names: list[str], groups: set[str]) -> bool:
    """Whether a rule's object can match anything: `*`, a group of g2 lines (the
    catalog's `class:` groups included), a field, or a keyMatch prefix of one. `names`:
    every field's `opd.dataset.field`, sorted (a prefix is found by bisection, not by a
    scan per rule: a catalog of 10,000 fields has an `opd.*` rule per OPD)."""
    if obj == "*" or obj in groups:
        return True
    star = obj.find("*")
    key = obj if star < 0 else obj[:star]
    at = bisect.bisect_left(names, key)
    return at < len(names) and (names[at] == key if star < 0 else names[at].startswith(key))


def generated_rules(catalog: Catalog) -> Rules:
    """What the catalog implies: classification groups and the owner rule."""
    g2 = [[f"{ds.qualified}.{name}", f"class:{spec.classification}"] for ds in catalog.datasets.values()
          for name, spec in ds.fields.items()]  # fmt: skip
    owners = [[f"opd:{opd}", f"{opd}.*", "*", "allow"] for opd in catalog.files]
    return Rules(owners, [], g2)


def build_enforcer(model: Path, rules: Rules, catalog: Catalog) -> casbin.Enforcer:
    import casbin

    try:
        enforcer = casbin.Enforcer(str(model))
    except Exception as e:  # casbin raises plain Exceptions for a bad model
        raise PolicyError([PolicyProblem(str(model), 0, f"not a valid Casbin model: {e}")]) from None
    extra = generated_rules(catalog)
    enforcer.enable_auto_build_role_links(False)
    if rules.p or extra.p:
        enforcer.add_named_policies("p", rules.p + extra.p)
    if rules.g:
        enforcer.add_named_grouping_policies("g", rules.g)
    if rules.g2 or extra.g2:
        enforcer.add_named_grouping_policies("g2", rules.g2 + extra.g2)
    enforcer.build_role_links()
    return enforcer


@dataclass
class _State:
    rules: Rules
    version: int
    stamp: tuple[float, ...]
    index: PolicyIndex | None  # the standard model, compiled; None: ask Casbin
    make_enforcer: Callable[[], casbin.Enforcer]
    cache: dict[tuple[str, str, str], tuple[bool, bool]] = field(default_factory=dict)
    _enforcer: casbin.Enforcer | None = None

    @property
    def enforcer(self) -> casbin.Enforcer:
        """Casbin itself: built when first needed (explain, or a model of your own)."""
        if self._enforcer is None:
            self._enforcer = self.make_enforcer()
        return self._enforcer


class Policy:
    """The policy in force, reloaded when its files change."""

    def __init__(self, directory: Path, catalog: Catalog, check_interval: float = 0.5) -> None:
        self.model = directory / "model.conf"
        self.csv = directory / "policy.csv"
        self.catalog = catalog
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._state = self._load(version=1)  # raises PolicyError: fail at start-up

    def _stamp(self) -> tuple[float, ...]:
        """What identifies each file's content cheaply: an edit within the clock's
        granularity, or a copy that keeps the mtime, still changes size, inode or ctime."""
        out: list[float] = []
        for path in (self.model, self.csv):
            try:
                st = path.stat()
                out += [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]
            except OSError:
                out.append(-1)
        return tuple(out)

    def _load(self, version: int) -> _State:
        stamp = self._stamp()
        rules = read_rules(self.csv, self.catalog)
        state = _State(rules, version, stamp, None, lambda: build_enforcer(self.model, rules, self.catalog))
        if is_standard(self.model):
            extra = generated_rules(self.catalog)
            state.index = PolicyIndex(rules.p + extra.p, rules.g, rules.g2 + extra.g2)
        else:
            state.enforcer  # noqa: B018 - a broken model must fail now, not on the first request
        return state

    def rules(self) -> Rules:
        """The rules of policy.csv in force (without the generated ones)."""
        return self._state.rules

    @property
    def version(self) -> int:
        return self._state.version

    def current_version(self) -> int:
        """The version in force after a `refresh`: a new one after every reload, so that
        an outcome kept under a version is never used under another policy."""
        self.refresh()
        return self._state.version

    def refresh(self, force: bool = False) -> None:
        """Reload if a policy file changed (checked at most every `check_interval` s)."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_interval:
            return
        self._checked = now
        if self._stamp() == self._state.stamp:
            return
        with self._lock:
            try:
                self._state = self._load(self._state.version + 1)
                log.info("policy reloaded (version %d)", self._state.version)
            except PolicyError as e:
                self._state.stamp = self._stamp()  # report once per change, not per request
                log.error("policy files have problems; the last good policy stays in force:\n%s", e)

    def explain(self, subject: str, obj: str, action: str) -> tuple[bool, list[str] | None]:
        """Casbin's own decision for this triple and the rule that made it (None: no
        rule matched). For people (`hub policy explain`); requests use `allows`."""
        allowed, rule = self._state.enforcer.enforce_ex(subject, obj, action)
        return bool(allowed), list(rule) or None

    def _decide(self, subject: str, obj: str, action: str) -> tuple[bool, bool]:
        """(allowed, a deny rule matched), cached per policy version."""
        state = self._state
        key = (subject, obj, action)
        hit = state.cache.get(key)
        if hit is None:
            if state.index is not None:
                hit = state.index.decide(subject, obj, action)
            else:
                allowed, rule = state.enforcer.enforce_ex(subject, obj, action)
                hit = (bool(allowed), bool(rule) and rule[3] == "deny")
            state.cache[key] = hit
        return hit

    def enforce(self, subject: str, obj: str, action: str) -> bool:
        """Casbin's decision for exactly this triple (the compiled index for the standard model)."""
        return self._decide(subject, obj, action)[0]

    def allows(self, subject: str, obj: str, action: str) -> bool:
        """The hub's decision: Casbin's, with `read` implying `match` and `aggregate`,
        and `match` implying `join`, unless a deny rule names that action."""
        allowed, denied = self._decide(subject, obj, action)
        if allowed or action == "read" or denied:
            return allowed
        if action == "join":
            return self.allows(subject, obj, "match")
        return self.enforce(subject, obj, "read")

    def decide(self, subject: str, pairs: Iterable[Pair]) -> dict[Pair, bool]:
        """One batch of decisions for a request."""
        self.refresh()
        return {(obj, act): self.allows(subject, obj, act) for obj, act in pairs}
