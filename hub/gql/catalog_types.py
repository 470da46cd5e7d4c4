"""The `catalog` and `me` queries: hand-written, so they are strawberry types."""

from __future__ import annotations

from typing import Any

import strawberry

from hub.catalog import Catalog as CatalogModel
from hub.catalog import Dataset
from hub.catalog.names import camel
from hub.gql.dataset_types import Access, Audience, disclosure_text
from hub.policy.decisions import ACTIONS


@strawberry.type(description="One field of a dataset.")
class CatalogField:
    id: str = strawberry.field(description="`opd.dataset.field`: the object policies name")
    name: str
    graphql_name: str
    type: str
    classification: str
    description: str | None

    @strawberry.field(description="What you may do with this field: read, match, aggregate, join.")  # type: ignore[untyped-decorator]
    def allowed(self, info: strawberry.Info) -> list[str]:
        ctx: Any = info.context
        decided = ctx.policy.decide(ctx.subject, [(self.id, a) for a in ACTIONS])
        return [a for a in ACTIONS if decided[(self.id, a)]]


@strawberry.type(description="A field that leads to rows of another dataset.")
class CatalogRelationship:
    name: str
    graphql_name: str
    to: str
    many: bool


@strawberry.type(
    description="How aggregates are protected for callers who may not read every field they use."
)
class CatalogDisclosure:
    method: str = strawberry.field(description="`cell_key` (perturbed) or `suppress`")
    max_noise: int = strawberry.field(description="cell_key: largest noise on a count, either way")
    variance: float = strawberry.field(description="cell_key: variance of the noise on a count (mean 0)")
    sum_noise: float = strawberry.field(
        description="cell_key: largest noise on a sum, as a share of the group's largest value"
    )
    text: str = strawberry.field(description="The same in words")


@strawberry.type(description="A dataset an OPD publishes through the hub.")
class CatalogDataset:
    id: str = strawberry.field(description="`opd.dataset`")
    name: str
    graphql_name: str
    title: str | None
    description: str | None
    license: str
    key: str
    min_group_size: int
    disclosure: CatalogDisclosure
    require_purpose: bool
    fields: list[CatalogField]
    relationships: list[CatalogRelationship]


@strawberry.type(description="An agency (OPD) and its datasets.")
class CatalogOpd:
    id: str
    name: str
    contact: str | None
    datasets: list[CatalogDataset]


@strawberry.type(description="Everything the hub serves.")
class Catalog:
    opds: list[CatalogOpd]


@strawberry.type(description="The caller as the hub sees it.")
class Subject:
    id: str = strawberry.field(description="opd:<id>, user:<name> or public")


@strawberry.type
class _Root:
    catalog: Catalog
    me: Subject


def build_listing(catalog: CatalogModel, audience: Audience = None) -> Catalog:
    """The listing for an audience: only the datasets and fields it may see."""
    opds = []
    for opd, f in catalog.files.items():
        datasets = []
        for ds in catalog.of_opd(opd):
            access = Access.everything(ds) if audience is None else audience.get(ds.qualified)
            visible = access.read | access.match | access.aggregate if access else frozenset()
            if not visible:
                continue
            fields = [
                CatalogField(
                    id=f"{ds.qualified}.{n}",
                    name=n,
                    graphql_name=camel(n),
                    type=s.type,
                    classification=s.classification,
                    description=s.description,
                )
                for n, s in ds.fields.items()
                if n in visible
            ]
            rels = [
                CatalogRelationship(name=n, graphql_name=camel(n), to=r.to, many=r.many)
                for n, r in ds.spec.relationships.items()
                if audience is None
            ]
            datasets.append(
                CatalogDataset(
                    id=ds.qualified,
                    name=ds.name,
                    graphql_name=camel(ds.name),
                    title=ds.spec.title,
                    description=ds.spec.description,
                    license=ds.spec.license,
                    key=ds.key,
                    min_group_size=ds.spec.min_group_size,
                    disclosure=_disclosure(ds),
                    require_purpose=ds.spec.require_purpose,
                    fields=fields,
                    relationships=rels,
                )
            )
        if datasets:
            opds.append(CatalogOpd(id=opd, name=f.opd.name, contact=f.opd.contact, datasets=datasets))
    return Catalog(opds=opds)


def _disclosure(ds: Dataset) -> CatalogDisclosure:
    d = ds.spec.disclosure
    return CatalogDisclosure(
        method=d.method, max_noise=d.max_noise, variance=d.variance, sum_noise=d.sum_noise,
        text=disclosure_text(ds),
    )  # fmt: skip


_ROOT = strawberry.Schema(query=_Root)._schema


def catalog_type() -> object:
    """The graphql-core type strawberry generates for `Catalog` (and everything under it)."""
    return _ROOT.type_map["Catalog"]


def subject_type() -> object:
    return _ROOT.type_map["Subject"]
