"""The policy's rules compiled into lookups, for the standard model only.

pycasbin's `enforce()` evaluates the matcher expression against every rule, about a
millisecond per call with a few hundred rules; the public schema alone asks for
every field x action. For the model the hub ships (`policies/model.conf`) the same
decision is a few dictionary lookups:

    subject matches  p.sub == "*", or p.sub is the caller or one of its roles (g, transitive)
    object matches   keyMatch(obj, p.obj) (p.obj exact, or a prefix ending in *), or
                     p.obj is a group of obj (g2, transitive: class:<label> groups)
    action matches   p.act == "*" or p.act == the action
    effect           allowed when an allow rule matches and no deny rule does

A model file with any other matcher or effect is evaluated by Casbin itself. A test
holds this index to `casbin.Enforcer.enforce` on thousands of random triples.
"""

from __future__ import annotations

import configparser
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

STANDARD_MATCHER = (
    '(p.sub == "*" || g(r.sub, p.sub)) && (keyMatch(r.obj, p.obj) || g2(r.obj, p.obj)) '
    '&& (p.act == "*" || r.act == p.act)'
)
STANDARD_EFFECT = "some(where (p.eft == allow)) && !some(where (p.eft == deny))"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def is_standard(model: Path) -> bool:
    """Does `model` hold exactly the hub's request, policy, role, effect and matcher lines?"""
    parser = configparser.ConfigParser(
        interpolation=None, comment_prefixes=("#",), inline_comment_prefixes=None
    )
    try:
        parser.read_string(model.read_text(encoding="utf-8"))
        return (
            _squash(parser["request_definition"]["r"]) == "sub,obj,act"
            and _squash(parser["policy_definition"]["p"]) == "sub,obj,act,eft"
            and _squash(parser["role_definition"]["g"]) == "_,_"
            and _squash(parser["role_definition"]["g2"]) == "_,_"
            and _squash(parser["policy_effect"]["e"]) == _squash(STANDARD_EFFECT)
            and _squash(parser["matchers"]["m"]) == _squash(STANDARD_MATCHER)
        )
    except (configparser.Error, KeyError, OSError):
        return False


def _closure(pairs: Iterable[list[str]]) -> dict[str, set[str]]:
    """member -> every group it belongs to, directly or through other groups."""
    direct: dict[str, set[str]] = defaultdict(set)
    for member, group in pairs:
        direct[member].add(group)
    out: dict[str, set[str]] = {}
    for start in direct:
        seen: set[str] = set()
        stack = list(direct[start])
        while stack:
            g = stack.pop()
            if g not in seen:
                seen.add(g)
                stack.extend(direct.get(g, ()))
        out[start] = seen
    return out


class PolicyIndex:
    """Decisions of the standard model, from rules (p: sub, obj, act, eft; g and g2: member, group)."""

    def __init__(self, p: list[list[str]], g: list[list[str]], g2: list[list[str]]) -> None:
        self.roles = _closure(g)
        self.groups = _closure(g2)
        self.by_subject: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for sub, obj, act, eft in p:
            self.by_subject[sub].append((obj, act, eft))
        self._subject_rules: dict[str, list[tuple[str, str, str]]] = {}

    def _rules_for(self, subject: str) -> list[tuple[str, str, str]]:
        """The rules naming the subject, one of its roles or `*` (gathered once per subject:
        the public schema alone asks for every field x action)."""
        rules = self._subject_rules.get(subject)
        if rules is None:
            names = {subject, "*", *self.roles.get(subject, ())}
            rules = [rule for name in names for rule in self.by_subject.get(name, ())]
            self._subject_rules[subject] = rules
        return rules

    def decide(self, subject: str, obj: str, action: str) -> tuple[bool, bool]:
        """(allowed, some deny rule matched)."""
        groups = self.groups.get(obj, set())
        allow = deny = False
        for pattern, act, eft in self._rules_for(subject):
            if act != "*" and act != action:
                continue
            if not (_key_match(obj, pattern) or pattern in groups):
                continue
            if eft == "deny":
                deny = True
            else:
                allow = True
        return allow and not deny, deny


def _key_match(key: str, pattern: str) -> bool:
    """Casbin's keyMatch: equal, or equal up to the pattern's first `*`."""
    star = pattern.find("*")
    if star == -1:
        return key == pattern
    return key[:star] == pattern[:star]
