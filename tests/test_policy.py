"""hub/policy/decisions.py: the hub decides as Casbin does, owners own their data, edits reload
without a restart, broken files are refused with file and line, and the `hub policy`
and `hub check` commands say the same."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import casbin
import pytest

from hub.catalog import Catalog, load_catalog
from hub.errors import PolicyError
from hub.policy.decisions import ACTIONS, Policy, generated_rules
from tests.support.catalogs import write_catalog
from tests.support.hubcli import hub_env, run_hub
from tests.support.policy_oracle import Oracle, RuleSet
from tests.support.regency import http_client, start_regency, write_policies
from tests.support.waiting import poll

NIK, NAMA, KECAMATAN, SALDO = (f"dukcapil.penduduk.{f}" for f in ("nik", "nama", "kecamatan", "saldo"))
PROGRAM = "dinsos.penerima_bansos.program"


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("policy-catalog") / "schema"
    write_catalog(directory, "sqlite+aiosqlite:///dukcapil.db", "sqlite+aiosqlite:///dinsos.db")
    return directory


@pytest.fixture(scope="module")
def catalog(schema_dir: Path) -> Catalog:
    return load_catalog(schema_dir)


@pytest.fixture(autouse=True)
def quiet_casbin(caplog: pytest.LogCaptureFixture) -> None:
    """Casbin logs every denied request as a warning: thousands here."""
    caplog.set_level(logging.ERROR, logger="casbin")


def fields_of(catalog: Catalog) -> list[str]:
    return [f"{ds.qualified}.{f}" for ds in catalog.datasets.values() for f in ds.fields]


# --- the hub against a fresh Casbin enforcer ----------------------------------------------------

USERS = ["user:ana", "user:budi", "user:citra", "user:dedi"]
OPDS = ["opd:dukcapil", "opd:dinsos", "opd:bpkad"]
ROLES = ["role:analyst", "role:auditor", "role:verifier"]
PREFIXES = [
    "*",
    "dukcapil.*",
    "dinsos.*",
    "dukcapil.penduduk.*",
    "dinsos.penerima_bansos.*",
    "dukcapil.penduduk.t*",
    "dinsos.penerima_bansos.n*",
]
CLASSES = ["class:public", "class:internal", "class:confidential", "class:body", "class:restricted"]
STRAY_OBJECTS = ["dukcapil.penduduk.unknown", "dukcapil.keluarga.nik", "bpkad.anggaran.pagu", "class:public"]


def random_rules(rnd: random.Random, fields: list[str]) -> tuple[RuleSet, Counter[str]]:
    """A random policy.csv and the kinds of rule it holds."""
    rules, kinds = RuleSet(), Counter[str]()
    for user in USERS:
        for role in rnd.sample(ROLES, rnd.randint(0, 2)):
            rules.g.append((user, role))
    if rnd.random() < 0.7:  # a role of a role
        rules.g.append(("role:auditor", "role:analyst"))
        kinds["role of a role"] += 1
    classes = CLASSES[:3]  # the catalog's own
    if rnd.random() < 0.5:  # a group of the policy's own, and a group of a group
        rules.g2 += [("dukcapil.penduduk.tinggi", "class:body"), ("dukcapil.penduduk.anak", "class:body")]
        rules.g2.append(("class:internal", "class:restricted"))
        classes = CLASSES  # a rule may name a group only where it is defined
    for _ in range(rnd.randint(3, 18)):
        sub = rnd.choice([*USERS, *OPDS, "public", *ROLES, "*"])
        kind = rnd.choice(["exact", "exact", "prefix", "class"])
        obj = rnd.choice({"exact": fields, "prefix": PREFIXES, "class": classes}[kind])
        act = rnd.choice([*ACTIONS, "*"])
        eft = "deny" if rnd.random() < 0.3 else "allow"
        rules.p.append((sub, obj, act, eft))
        kinds[kind] += 1
        kinds[f"subject {sub}" if sub in ("*", "public") else f"subject {sub.split(':')[0]}"] += 1
        kinds[f"action {act}"] += 1
        kinds[eft] += 1
    return rules, kinds


def reference(
    tmp: Path, model: Path, rules: RuleSet, catalog: Catalog, denies_only: bool = False
) -> casbin.Enforcer:
    """A fresh Casbin enforcer from the model file and a CSV of the rules plus the
    catalog's generated ones. `denies_only`: the deny rules, as allow rules (so that
    `enforce` answers "does some deny rule match?")."""
    extra = generated_rules(catalog)
    p = rules.p + [(s, o, a, e) for s, o, a, e in extra.p]
    if denies_only:
        p = [(s, o, a, "allow") for s, o, a, e in p if e == "deny"]
    full = RuleSet(p, rules.g, rules.g2 + [(a, b) for a, b in extra.g2])
    path = tmp / ("denies.csv" if denies_only else "reference.csv")
    path.write_text(full.csv())
    return casbin.Enforcer(str(model), str(path))


def random_policies(
    tmp: Path, catalog: Catalog, count: int
) -> Iterator[tuple[RuleSet, Policy, Counter[str]]]:
    rnd = random.Random(20250611)
    fields = fields_of(catalog)
    for i in range(count):
        rules, kinds = random_rules(rnd, fields)
        directory = write_policies(tmp / f"policy{i}", rules.csv())
        yield rules, Policy(directory, catalog), kinds


def random_triples(rnd: random.Random, fields: list[str], n: int) -> list[tuple[str, str, str]]:
    subjects = [*USERS, *OPDS, "public", *ROLES, "user:nobody"]
    objects = fields + STRAY_OBJECTS
    return [(rnd.choice(subjects), rnd.choice(objects), rnd.choice(ACTIONS)) for _ in range(n)]


def test_decisions_equal_casbin_on_random_triples(tmp_path: Path, catalog: Catalog) -> None:
    rnd = random.Random(7)
    fields = fields_of(catalog)
    checked, outcomes, kinds = 0, Counter[str](), Counter[str]()
    wrong: list[str] = []
    for rules, policy, used in random_policies(tmp_path, catalog, count=50):
        kinds += used
        ref = reference(policy.csv.parent, policy.model, rules, catalog)
        denies = reference(policy.csv.parent, policy.model, rules, catalog, denies_only=True)
        for sub, obj, act in random_triples(rnd, fields, 80):
            casbin_says = ref.enforce(sub, obj, act)

            expected = casbin_says or implied(ref, denies, sub, obj, act)
            got = (policy.enforce(sub, obj, act), policy.allows(sub, obj, act))
            decided = policy.decide(sub, [(obj, act)])
            if got != (casbin_says, expected) or decided != {(obj, act): expected}:
                wrong.append(
                    f"{rules.csv()}{sub} {obj} {act}: hub {got}, casbin {casbin_says}, expected {expected}"
                )
            checked += 1
            outcomes[f"casbin {casbin_says}"] += 1
            outcomes[f"allows {expected}"] += 1
            outcomes["read implied"] += expected and not casbin_says
    assert not wrong, f"{len(wrong)} of {checked} decisions differ; first:\n" + "\n".join(wrong[:3])
    assert checked >= 3000
    # The random policies exercised what they should: both outcomes, every kind of rule.
    assert min(outcomes["casbin True"], outcomes["casbin False"], outcomes["read implied"]) >= 100, outcomes
    assert {"exact", "prefix", "class", "role of a role", "allow", "deny", "subject *"} <= set(kinds), kinds
    assert all(kinds[f"action {a}"] for a in (*ACTIONS, "*")), kinds


def implied(ref: Any, denies: Any, sub: str, obj: str, act: str) -> bool:
    """docs/design.md §5 / hub.policy.decisions: read implies match and aggregate, and
    match implies join, unless a deny rule matches that action (`ref`: Casbin on the
    rules, `denies`: Casbin on their deny rules alone)."""
    if act == "read" or denies.enforce(sub, obj, act):
        return False
    if act == "join":
        return bool(ref.enforce(sub, obj, "match")) or implied(ref, denies, sub, obj, "match")
    return bool(ref.enforce(sub, obj, "read"))


def test_model_implements_the_documented_rules(tmp_path: Path, catalog: Catalog) -> None:
    """The plain-Python reading of docs/design.md §5 (tests/support/policy_oracle.py) agrees with
    Casbin running policies/model.conf, so tests that use the oracle test the contract."""
    rnd = random.Random(11)
    fields = fields_of(catalog)
    wrong = []
    for rules, policy, _ in random_policies(tmp_path, catalog, count=20):
        ref = reference(policy.csv.parent, policy.model, rules, catalog)
        oracle = Oracle(rules, catalog)
        for sub, obj, act in random_triples(rnd, fields, 80):
            if (oracle.casbin(sub, obj, act), oracle.allows(sub, obj, act)) != (
                ref.enforce(sub, obj, act),
                policy.allows(sub, obj, act),
            ):
                wrong.append(f"{rules.csv()}{sub} {obj} {act}")
    assert not wrong, f"{len(wrong)} differ; first:\n" + "\n".join(wrong[:3])


def test_read_implies_match_and_aggregate_unless_a_deny_names_the_action(
    tmp_path: Path, catalog: Catalog
) -> None:
    rules = (
        f"p, user:ana, dukcapil.penduduk.*, read, allow\n"
        f"p, user:ana, {NAMA}, match, deny\n"
        f"p, user:ana, {SALDO}, *, deny\n"
        f"p, user:budi, {NIK}, match, allow\n"
    )
    policy = Policy(write_policies(tmp_path, rules), catalog)
    assert policy.decide("user:ana", [(KECAMATAN, a) for a in ACTIONS]) == dict.fromkeys(
        [(KECAMATAN, a) for a in ACTIONS], True
    )
    assert policy.enforce("user:ana", KECAMATAN, "match") is False  # Casbin alone says no
    assert policy.allows("user:ana", NAMA, "read") is True
    assert policy.allows("user:ana", NAMA, "match") is False  # the deny names match
    assert policy.allows("user:ana", NAMA, "aggregate") is True
    assert [policy.allows("user:ana", SALDO, a) for a in ACTIONS] == [False, False, False, False]
    # match does not imply read
    assert policy.allows("user:budi", NIK, "match") is True
    assert policy.allows("user:budi", NIK, "read") is False
    assert policy.allows("user:budi", NIK, "aggregate") is False


# --- the owner rule ------------------------------------------------------------------------------


def test_an_opd_may_do_everything_with_its_own_datasets_without_a_rule(
    tmp_path: Path, catalog: Catalog
) -> None:
    policy = Policy(write_policies(tmp_path, "# no rules at all\n"), catalog)
    assert policy.rules().p == []
    for obj in fields_of(catalog):
        own = obj.split(".")[0]
        for opd in ("dukcapil", "dinsos"):
            for action in ACTIONS:
                assert policy.allows(f"opd:{opd}", obj, action) is (opd == own), (opd, obj, action)
                assert policy.allows(f"user:{opd}", obj, action) is False  # not an OPD
    assert policy.allows("opd:dukcapil", "dukcapilx.penduduk.nik", "read") is False


def test_a_deny_still_beats_the_owner_rule(tmp_path: Path, catalog: Catalog) -> None:
    rules = f"p, opd:dukcapil, {SALDO}, read, deny\np, opd:dukcapil, {NIK}, *, deny\n"
    policy = Policy(write_policies(tmp_path, rules), catalog)
    assert [policy.allows("opd:dukcapil", NIK, a) for a in ACTIONS] == [False, False, False, False]
    assert policy.allows("opd:dukcapil", SALDO, "read") is False
    assert policy.allows("opd:dukcapil", SALDO, "match") is True  # the deny names read only
    assert policy.explain("opd:dukcapil", SALDO, "read") == (
        False,
        ["opd:dukcapil", SALDO, "read", "deny"],
    )
    assert policy.allows("opd:dukcapil", NAMA, "read") is True


# --- reload without restart ----------------------------------------------------------------------


def test_an_edit_takes_effect_within_two_seconds(tmp_path: Path, catalog: Catalog) -> None:
    directory = write_policies(tmp_path, f"p, user:ana, {NAMA}, read, allow\n")
    policy = Policy(directory, catalog)
    pairs = [(NAMA, "read"), (NIK, "read")]
    assert policy.decide("user:ana", pairs) == {(NAMA, "read"): True, (NIK, "read"): False}
    version = policy.version
    (directory / "policy.csv").write_text(f"p, user:ana, {NIK}, read, allow\n")
    edited = {(NAMA, "read"): False, (NIK, "read"): True}
    poll(lambda: policy.decide("user:ana", pairs) == edited, 2, "the edited policy in force")
    assert policy.version == version + 1
    assert policy.rules().p == [["user:ana", NIK, "read", "allow"]]


async def test_an_edit_reaches_http_without_a_restart(tmp_path: Path) -> None:
    """A field that was null and FORBIDDEN becomes readable, and the public schema
    (built from the policy) gains what the edit grants the public."""
    write_policies(tmp_path / "policies", f"p, user:tester, {KECAMATAN}, read, allow\n")
    regency = await start_regency("sqlite", tmp_path)
    public = http_client(regency.hub)
    query = "{ dukcapil { penduduk(first: 3) { nodes { kecamatan nama } } } }"
    public_query = {"query": "{ dukcapil { penduduk(first: 3) { nodes { kecamatan } } } }"}
    try:
        body = await regency.gql(query)
        assert body["data"]["dukcapil"]["penduduk"]["nodes"] == [
            {"kecamatan": p["kecamatan"], "nama": None} for p in regency.people[:3]
        ]
        assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
            ("FORBIDDEN", ["dukcapil", "penduduk", "nodes", "nama"])
        ]
        before = (await public.post("/public/graphql", json=public_query)).json()
        assert [e["extensions"]["code"] for e in before["errors"]] == ["BAD_USER_INPUT"]  # no such field

        (tmp_path / "policies" / "policy.csv").write_text(
            f"p, user:tester, {KECAMATAN}, read, allow\np, user:tester, {NAMA}, read, allow\n"
            f"p, public, {KECAMATAN}, read, allow\n"
        )
        started = time.monotonic()
        while "errors" in (body := await regency.gql(query)):
            assert time.monotonic() - started < 2, body
            await asyncio.sleep(0.02)
        assert body["data"]["dukcapil"]["penduduk"]["nodes"] == [
            {"kecamatan": p["kecamatan"], "nama": p["nama"]} for p in regency.people[:3]
        ]
        after = (await public.post("/public/graphql", json=public_query)).json()
        assert after == {
            "data": {
                "dukcapil": {
                    "penduduk": {"nodes": [{"kecamatan": p["kecamatan"]} for p in regency.people[:3]]}
                }
            }
        }

        # and taken back: the same document by the same subject is refused again (what
        # the fast path kept under the earlier policy is not used under this one)
        (tmp_path / "policies" / "policy.csv").write_text(f"p, user:tester, {KECAMATAN}, read, allow\n")
        started = time.monotonic()
        while "errors" not in (body := await regency.gql(query)):
            assert time.monotonic() - started < 2, body
            await asyncio.sleep(0.02)
        assert body["data"]["dukcapil"]["penduduk"]["nodes"] == [
            {"kecamatan": p["kecamatan"], "nama": None} for p in regency.people[:3]
        ]
    finally:
        await public.aclose()
        await regency.close()


# --- broken files --------------------------------------------------------------------------------

GOOD = f"p, user:ana, {NAMA}, read, allow\n"
BROKEN = [
    ("bad effect", f"# rules\n{GOOD}p, user:ana, {NIK}, read, permit\n", 3, "effect must be allow or deny"),
    ("too few columns", f"p, user:ana, {NIK}, read\n", 1, "a p rule is"),
    ("too many columns", f"{GOOD}\np, user:ana, {NIK}, read, allow, extra\n", 3, "a p rule is"),
    ("unknown action", f"{GOOD}p, user:ana, {NIK}, write, allow\n", 2, "action must be"),
    ("unknown rule type", f"{GOOD}q, user:ana, {NIK}, read, allow\n", 2, "unknown rule type"),
    ("g with a domain", f"g, user:ana, role:analyst, dukcapil\n{GOOD}", 1, "a g line is"),
    ("empty subject", f"p, , {NIK}, read, allow\n", 1, "a p rule needs a subject and an object"),
    # a misspelt object matches nothing: a misspelt deny would deny nothing, in silence
    ("misspelt class in a deny", f"{GOOD}p, *, class:confidental, read, deny\n", 2, "matches no field"),
    ("unknown field", "p, user:ana, dukcapil.penduduk.nikk, read, allow\n", 1, "'dukcapil.penduduk.nikk'"),
    ("prefix of no field", f"{GOOD}p, user:ana, dukcapl.*, read, allow\n", 2, "matches no field"),
]


@pytest.mark.parametrize(("text", "line", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_file_stops_the_start_naming_file_and_line(
    tmp_path: Path, catalog: Catalog, text: str, line: int, message: str
) -> None:
    directory = write_policies(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        Policy(directory, catalog)
    csv_path = str(directory / "policy.csv")
    assert [(p.file, p.line) for p in raised.value.problems] == [(csv_path, line)]
    assert message in raised.value.problems[0].message
    assert f"{csv_path}:{line}: " in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path: Path, catalog: Catalog) -> None:
    text = "".join(b[1].splitlines(keepends=True)[b[2] - 1] for b in BROKEN)
    with pytest.raises(PolicyError) as raised:
        Policy(write_policies(tmp_path, text), catalog)
    assert [p.line for p in raised.value.problems] == list(range(1, len(BROKEN) + 1))
    for problem, (name, _, _, message) in zip(raised.value.problems, BROKEN, strict=True):
        assert message in problem.message, name


def test_a_broken_edit_keeps_the_last_good_policy_until_fixed(
    tmp_path: Path, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="hub.policy.decisions")
    directory = write_policies(tmp_path, GOOD)
    policy = Policy(directory, catalog)
    pairs = [(NAMA, "read"), (NIK, "read")]
    before = {(NAMA, "read"): True, (NIK, "read"): False}
    assert policy.decide("user:ana", pairs) == before
    version = policy.version

    (directory / "policy.csv").write_text(f"p, user:ana, {NIK}, read, allow\np, user:ana, {NAMA}, read\n")

    def reported() -> bool:
        assert policy.decide("user:ana", pairs) == before  # never anything else meanwhile
        return any("last good policy stays in force" in r.getMessage() for r in caplog.records)

    poll(reported, 2, "the broken edit to be logged")
    assert any(f"{directory / 'policy.csv'}:2" in r.getMessage() for r in caplog.records)
    assert policy.version == version
    assert policy.decide("user:ana", pairs) == before

    (directory / "policy.csv").write_text(f"p, user:ana, {NIK}, read, allow\n")
    edited = {(NAMA, "read"): False, (NIK, "read"): True}
    poll(lambda: policy.decide("user:ana", pairs) == edited, 2, "the edited policy in force")
    assert policy.version == version + 1


# --- the commands --------------------------------------------------------------------------------

CLI_RULES = """\
g, user:rina, role:analyst
p, role:analyst, dukcapil.penduduk.*, read, allow
p, role:analyst, class:confidential, read, deny
p, user:rina, dinsos.penerima_bansos.nik, match, allow
"""


@pytest.fixture
def cli_dirs(tmp_path: Path, schema_dir: Path) -> tuple[Path, Path]:
    return schema_dir, write_policies(tmp_path / "policies", CLI_RULES)


def cli_args(dirs: tuple[Path, Path]) -> list[str]:
    return ["--schema", str(dirs[0]), "--policies", str(dirs[1])]


async def test_policy_explain_prints_the_decision_and_the_deciding_rule(
    tmp_path: Path, cli_dirs: tuple[Path, Path]
) -> None:
    cases = [
        (("user:rina", KECAMATAN, "read"), 0, "ALLOW", "rule: p, role:analyst, dukcapil.penduduk.*, read, allow"),
        (("user:rina", NIK, "read"), 1, "DENY", "rule: p, role:analyst, class:confidential, read, deny"),
        (("user:rina", KECAMATAN, "match"), 0, "ALLOW",
         "rule: read implies match: p, role:analyst, dukcapil.penduduk.*, read, allow"),
        (("user:rina", PROGRAM, "read"), 1, "DENY", "rule: none matched (no rule means deny)"),
        (("opd:dinsos", PROGRAM, "aggregate"), 0, "ALLOW", "rule: p, opd:dinsos, dinsos.*, *, allow"),
        (("user:rina", "dinsos.penerima_bansos.nik", "match"), 0, "ALLOW",
         "rule: p, user:rina, dinsos.penerima_bansos.nik, match, allow"),
        (("user:rina", "dinsos.penerima_bansos.nik", "join"), 0, "ALLOW",
         "rule: match implies join: p, user:rina, dinsos.penerima_bansos.nik, match, allow"),
        (("user:rina", KECAMATAN, "join"), 0, "ALLOW",
         "rule: read implies join: p, role:analyst, dukcapil.penduduk.*, read, allow"),
    ]  # fmt: skip
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    runs = await asyncio.gather(
        *(
            run_hub("policy", "explain", *triple, *cli_args(cli_dirs), cwd=tmp_path, env=env)
            for triple, *_ in cases
        )
    )
    for (triple, code, verdict, rule), ran in zip(cases, runs, strict=True):
        assert ran.code == code, (triple, ran)
        assert ran.stdout.splitlines() == [f"{verdict} {' '.join(triple)}", rule], triple


async def test_policy_matrix_lists_every_field_with_each_action(
    tmp_path: Path, cli_dirs: tuple[Path, Path], catalog: Catalog
) -> None:
    ran = await run_hub("policy", "matrix", "user:rina", *cli_args(cli_dirs), cwd=tmp_path)
    assert ran.code == 0, ran
    rows = {}
    for line in ran.stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) == 2 + len(ACTIONS) and cells[0] in fields_of(catalog):
            rows[cells[0]] = cells[1:]
    oracle = Oracle(RuleSet.parse(CLI_RULES), catalog)
    assert set(rows) == set(fields_of(catalog))
    for obj, (classification, *marks) in rows.items():
        opd, dataset, name = obj.split(".")
        assert classification == catalog.dataset(f"{opd}.{dataset}").fields[name].classification
        assert marks == ["yes" if oracle.allows("user:rina", obj, a) else "-" for a in ACTIONS], obj
    assert rows[KECAMATAN][1:] == ["yes", "yes", "yes", "yes"]
    assert rows[NIK][1:] == ["-", "-", "-", "-"]
    assert rows["dinsos.penerima_bansos.nik"][1:] == ["-", "yes", "-", "yes"]
    assert rows[PROGRAM][1:] == ["-", "-", "-", "-"]

    # the same, for programs
    ran = await run_hub("policy", "matrix", "user:rina", "--json", *cli_args(cli_dirs), cwd=tmp_path)
    assert ran.code == 0, ran
    matrix = json.loads(ran.stdout)
    assert matrix["subject"] == "user:rina" and set(matrix["fields"]) == set(rows)
    for obj, (classification, *marks) in rows.items():
        got = matrix["fields"][obj]
        assert [got["class"], *("yes" if got[a] else "-" for a in ACTIONS)] == [classification, *marks], obj


async def test_hub_check_reports_policy_problems_with_file_and_line(
    tmp_path: Path, cli_dirs: tuple[Path, Path]
) -> None:
    csv_path = cli_dirs[1] / "policy.csv"
    good = await run_hub("check", *cli_args(cli_dirs), cwd=tmp_path)
    assert good.code == 0, good
    assert "policy OK: 3 rules" in good.stdout
    csv_path.write_text(CLI_RULES + "p, user:rina, dinsos.*, read, alow\nx, user:rina\n")
    bad = await run_hub("check", *cli_args(cli_dirs), cwd=tmp_path)
    assert bad.code == 1, bad
    assert "policy OK" not in bad.stdout
    assert f"{csv_path}:5: effect must be allow or deny, not 'alow'" in bad.stderr
    assert f"{csv_path}:6: unknown rule type 'x'" in bad.stderr


async def test_policy_explain_exits_2_when_it_has_no_decision_to_give(
    tmp_path: Path, cli_dirs: tuple[Path, Path]
) -> None:
    """1 means DENY: a broken policy or an unknown action must not read as one."""
    env = hub_env(HUB_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    unknown = await run_hub(
        "policy", "explain", "user:rina", NIK, "write", *cli_args(cli_dirs), cwd=tmp_path, env=env
    )
    assert unknown.code == 2, unknown
    assert "ACTION must be one of read, match, aggregate, join, not 'write'" in unknown.stderr
    (cli_dirs[1] / "policy.csv").write_text(CLI_RULES + "p, user:rina, dinsos.*, read, alow\n")
    broken = await run_hub(
        "policy", "explain", "user:rina", NIK, "read", *cli_args(cli_dirs), cwd=tmp_path, env=env
    )
    assert broken.code == 2, broken
    assert "effect must be allow or deny, not 'alow'" in broken.stderr
    assert "DENY" not in broken.stdout
