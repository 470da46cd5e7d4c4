"""The access rules of docs/design.md §5 written out in plain Python, as an oracle for tests.

It reads the same `policy.csv` lines as the hub and decides (subject, object, action)
the way `policies/model.conf` documents it, without Casbin:

- a rule matches when its subject is the caller, one of the caller's roles (`g`,
  transitively) or `*`; its object equals the field, is a `prefix*` of it, or is a
  group the field belongs to (`g2`, transitively, including the catalog's
  `class:<label>` groups); and its action is the action or `*`;
- Casbin allows when some allow rule matches and no deny rule does;
- every OPD may do everything with its own datasets (an explicit deny still wins);
- the hub's `allows` adds: `read` implies `match` and `aggregate`, and `match`
  implies `join`, unless a deny rule matches that action.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.catalog import Catalog

ACTIONS = ("read", "match", "aggregate", "join")


@dataclass
class RuleSet:
    p: list[tuple[str, str, str, str]] = field(default_factory=list)
    g: list[tuple[str, str]] = field(default_factory=list)
    g2: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> RuleSet:
        out = cls()
        for row in csv.reader(text.splitlines(), skipinitialspace=True):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            if cells[0] == "p":
                out.p.append((cells[1], cells[2], cells[3], cells[4]))
            elif cells[0] == "g":
                out.g.append((cells[1], cells[2]))
            elif cells[0] == "g2":
                out.g2.append((cells[1], cells[2]))
        return out

    def csv(self) -> str:
        lines = [f"p, {', '.join(r)}" for r in self.p]
        lines += [f"g, {a}, {b}" for a, b in self.g]
        lines += [f"g2, {a}, {b}" for a, b in self.g2]
        return "\n".join(lines) + "\n"


def catalog_rules(catalog: Catalog) -> RuleSet:
    """What the catalog implies, derived here independently of `hub.policy.decisions`."""
    out = RuleSet()
    for qualified, ds in catalog.datasets.items():
        for name, spec in ds.fields.items():
            out.g2.append((f"{qualified}.{name}", f"class:{spec.classification}"))
    for opd in catalog.files:
        out.p.append((f"opd:{opd}", f"{opd}.*", "*", "allow"))
    return out


def _closure(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    direct: dict[str, set[str]] = defaultdict(set)
    for member, group in edges:
        direct[member].add(group)
    out: dict[str, set[str]] = {}
    for start in list(direct):
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in direct.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[start] = seen
    return out


def key_match(key: str, pattern: str) -> bool:
    """Casbin's keyMatch: `*` in the pattern matches any rest of the key."""
    star = pattern.find("*")
    return key == pattern if star < 0 else key.startswith(pattern[:star])


class Oracle:
    def __init__(self, rules: RuleSet, catalog: Catalog) -> None:
        extra = catalog_rules(catalog)
        self.p = rules.p + extra.p
        self.roles = _closure(rules.g)
        self.groups = _closure(rules.g2 + extra.g2)

    def _matching(self, subject: str, obj: str, action: str) -> list[tuple[str, str, str, str]]:
        roles = {subject} | self.roles.get(subject, set())
        groups = {obj} | self.groups.get(obj, set())
        return [
            r
            for r in self.p
            if (r[0] == "*" or r[0] in roles)
            and (key_match(obj, r[1]) or r[1] in groups)
            and (r[2] == "*" or r[2] == action)
        ]

    def casbin(self, subject: str, obj: str, action: str) -> bool:
        effects = {r[3] for r in self._matching(subject, obj, action)}
        return "allow" in effects and "deny" not in effects

    def denied_by_rule(self, subject: str, obj: str, action: str) -> bool:
        return any(r[3] == "deny" for r in self._matching(subject, obj, action))

    def allows(self, subject: str, obj: str, action: str) -> bool:
        if self.casbin(subject, obj, action):
            return True
        if action == "read" or self.denied_by_rule(subject, obj, action):
            return False
        if action == "join":  # implied by match, and so by read
            return self.allows(subject, obj, "match")
        return self.casbin(subject, obj, "read")
