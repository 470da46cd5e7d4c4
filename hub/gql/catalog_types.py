"""The `catalog` query: what the hub serves, written as strawberry types."""

from __future__ import annotations

import strawberry

from hub.catalog import Catalog as CatalogModel
from hub.names import camel


@strawberry.type(description="One field of a dataset.")
class CatalogField:
    name: str
    graphql_name: str
    type: str
    classification: str
    description: str | None


@strawberry.type(description="A field that leads to rows of another dataset.")
class CatalogRelationship:
    name: str
    graphql_name: str
    to: str
    many: bool


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


@strawberry.type
class _Root:
    catalog: Catalog


def build_listing(catalog: CatalogModel) -> Catalog:
    opds = []
    for opd, f in catalog.files.items():
        datasets = [
            CatalogDataset(
                id=ds.qualified,
                name=ds.name,
                graphql_name=camel(ds.name),
                title=ds.spec.title,
                description=ds.spec.description,
                license=ds.spec.license,
                key=ds.key,
                min_group_size=ds.spec.min_group_size,
                require_purpose=ds.spec.require_purpose,
                fields=[
                    CatalogField(
                        name=n,
                        graphql_name=camel(n),
                        type=s.type,
                        classification=s.classification,
                        description=s.description,
                    )
                    for n, s in ds.fields.items()
                ],
                relationships=[
                    CatalogRelationship(name=n, graphql_name=camel(n), to=r.to, many=r.many)
                    for n, r in ds.spec.relationships.items()
                ],
            )
            for ds in catalog.of_opd(opd)
        ]
        opds.append(CatalogOpd(id=opd, name=f.opd.name, contact=f.opd.contact, datasets=datasets))
    return Catalog(opds=opds)


def catalog_type() -> object:
    """The graphql-core type strawberry generates for `Catalog` (and everything under it)."""
    return strawberry.Schema(query=_Root)._schema.type_map["Catalog"]
