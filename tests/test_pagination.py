"""Walking every page of a filtered set gives exactly the rows a direct SQL query gives,
in the same order, with no duplicates and none missing, for several orderings."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.regency import PENDUDUK, Regency

QUERY = """query($where: DukcapilPendudukWhere, $orderBy: [DukcapilPendudukOrderBy!], $after: String) {
  dukcapil { penduduk(where: $where, orderBy: $orderBy, first: 7, after: $after) {
    edges { cursor node { nik } }
    pageInfo { hasNextPage endCursor }
  } }
}"""

COLUMNS = {"nik": "nik", "nama": "nama", "kecamatan": "kecamatan", "tanggalLahir": "tanggal_lahir",
           "statusHidup": "is_alive", "tinggi": "tinggi", "saldo": "saldo", "anak": "anak"}  # fmt: skip
ORDERS: list[list[dict[str, str]]] = [
    [],
    [{"nik": "DESC"}],
    [{"kecamatan": "ASC"}],
    [{"tanggalLahir": "DESC"}],
    [{"kecamatan": "DESC"}, {"nama": "ASC"}],
    [{"anak": "ASC"}, {"tanggalLahir": "ASC"}],
    [{"statusHidup": "ASC"}, {"saldo": "DESC"}],
]
WHERE = {"or": [{"anak": {"isNull": True}}, {"anak": {"gte": 2}}], "nik": {"neq": "210200000000003"}}


def direct_sql(order: list[dict[str, str]]) -> sa.Select[Any]:
    """The oracle: NULLs last ascending / first descending, key as tie-breaker."""
    t = PENDUDUK.c
    keys: list[Any] = []
    for item in order:
        ((name, direction),) = item.items()
        col = t[COLUMNS[name]]
        nulls = sa.case((col.is_(None), 1), else_=0)
        keys += [nulls.desc(), col.desc()] if direction == "DESC" else [nulls.asc(), col.asc()]
    if not any("nik" in item for item in order):
        keys.append(t.nik.asc())
    where = sa.and_(sa.or_(t.anak.is_(None), t.anak >= 2), t.nik != "210200000000003")
    return sa.select(t.nik).where(where).order_by(*keys)


@pytest.mark.parametrize("order", ORDERS, ids=[str(o) for o in ORDERS])
async def test_walking_all_pages_equals_direct_sql(regency: Regency, order: list[dict[str, str]]) -> None:
    async with regency.engine("dukcapil.penduduk").connect() as conn:
        expected = [r[0] for r in (await conn.execute(direct_sql(order))).all()]
    assert len(expected) > 50  # enough for several pages

    seen: list[str] = []
    after = None
    for _ in range(200):
        data = await regency.data(QUERY, {"where": WHERE, "orderBy": order, "after": after})
        page = data["dukcapil"]["penduduk"]
        seen += [e["node"]["nik"] for e in page["edges"]]
        if page["edges"]:
            assert page["edges"][-1]["cursor"] == page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)), "a row came twice"
    assert seen == expected


async def test_edge_cursor_resumes_after_that_edge(regency: Regency) -> None:
    data = await regency.data(QUERY, {"orderBy": [{"tanggalLahir": "DESC"}]})
    edges = data["dukcapil"]["penduduk"]["edges"]
    resumed = await regency.data(QUERY, {"orderBy": [{"tanggalLahir": "DESC"}], "after": edges[2]["cursor"]})
    again = [e["node"]["nik"] for e in resumed["dukcapil"]["penduduk"]["edges"]]
    assert again[:4] == [e["node"]["nik"] for e in edges[3:]]


async def test_a_cursor_pages_on_only_under_the_where_it_came_from(regency: Regency) -> None:
    meral = {"kecamatan": {"eq": "Meral"}}
    page = (await regency.data(QUERY, {"where": meral}))["dukcapil"]["penduduk"]
    cursor = page["pageInfo"]["endCursor"]
    again = await regency.data(QUERY, {"where": {"kecamatan": {"eq": "Meral"}}, "after": cursor})
    assert again["dukcapil"]["penduduk"]["edges"]  # the same where, spelt anew: accepted
    for other in (
        {"kecamatan": {"eq": "Moro"}},
        None,
        {"kecamatan": {"in": ["Meral"]}},
        {**meral, "anak": {"gte": 0}},
    ):
        body = await regency.gql(QUERY, {"where": other, "after": cursor})
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], other
        assert "cursor" in body["errors"][0]["message"]
    unfiltered = (await regency.data(QUERY))["dukcapil"]["penduduk"]["pageInfo"]["endCursor"]
    body = await regency.gql(QUERY, {"where": meral, "after": unfiltered})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_first_zero_counts_without_rows(regency: Regency) -> None:
    data = await regency.data(
        "{ dukcapil { penduduk(first: 0) { totalCount nodes { nik } pageInfo { hasNextPage endCursor } } } }"
    )
    page = data["dukcapil"]["penduduk"]
    assert page == {"totalCount": len(regency.people), "nodes": [],
                    "pageInfo": {"hasNextPage": True, "endCursor": None}}  # fmt: skip
