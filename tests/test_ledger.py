"""The audit record's row count: every row released, related rows at every depth included."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.audit.ledger import count_rows
from hub.plan import NodePlan, RelPlan

# A recipient (id, nik) with its resident (ONE), whose household members (MANY) each
# have their own documents (MANY): every kind of level count_rows walks.
DOCUMENTS = NodePlan(("no",))
MEMBERS = NodePlan(("nik",), (RelPlan("dokumen", "x.dokumen", "nik", "nik", True, DOCUMENTS),))
RESIDENT = NodePlan(("nik", "kk"), (RelPlan("anggota", "x.penduduk", "kk", "kk", True, MEMBERS),))
RECIPIENT = NodePlan(("id", "nik"), (RelPlan("penduduk", "x.penduduk", "nik", "nik", False, RESIDENT),))


def by_row(node: NodePlan, rows: list[Any]) -> int:
    """The plain reading of "rows plus their related rows", one row at a time."""
    total = 0
    for row in rows:
        total += 1
        for i, rel in enumerate(node.relationships):
            value = row[len(node.fields) + i]
            related = value if rel.many else ([] if value is None else [value])
            total += by_row(rel.node, related)
    return total


documents = st.lists(st.tuples(st.integers()), max_size=3)
members = st.lists(st.tuples(st.text(max_size=2), documents), max_size=3)
residents = st.none() | st.tuples(st.text(max_size=2), st.integers(), members)
recipients = st.lists(st.tuples(st.integers(), st.text(max_size=2), residents), max_size=6)


@given(recipients)
def test_count_rows_counts_every_released_row_at_every_depth(rows: list[Any]) -> None:
    assert count_rows(RECIPIENT, rows) == by_row(RECIPIENT, rows)


def test_count_rows_example() -> None:
    rows = [
        (1, "a", ("a", 7, [("a", [(1,), (2,)]), ("b", [])])),  # 1 + resident 1 + 2 members + 2 documents
        (2, "z", None),  # a recipient no resident matches: 1
    ]
    assert count_rows(RECIPIENT, rows) == 7
    assert count_rows(RECIPIENT, []) == 0
