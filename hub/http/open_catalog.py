"""The open catalog: what the public may see of the catalog, for the open-data pages,
DCAT-AP (/catalog.jsonld) and the CKAN action API.

A dataset is in it when `public` may read or aggregate at least one of its fields; it
shows only those fields. One whose fields the public may neither read nor aggregate is
left out entirely, as if it did not exist. Built once per policy version.

Example:
    >>> open_catalog(hub).dataset("dinkes", "puskesmas").readable
    ('kode', 'nama', 'kecamatan', 'alamat', 'jenis', 'jumlah_tenaga_kesehatan')
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from hub.catalog import Catalog, Dataset
from hub.catalog.names import camel
from hub.gql.dataset_types import Access
from hub.http.downloads import MEDIA
from hub.http.hub import public_audience

if TYPE_CHECKING:
    from hub.http.hub import Hub
    from hub.policy.decisions import Policy

DOWNLOADS = tuple(MEDIA)  # the formats of hub/http/downloads.py
LICENSES = {  # ids the catalog uses -> their canonical pages
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "ODbL-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
}


@dataclass(frozen=True)
class OpenField:
    name: str
    type: str
    description: str | None
    read: bool  # the public may read its values
    aggregate: bool  # the public may group, filter and count by it
    graphql: str  # its name in the API


@dataclass(frozen=True)
class OpenDataset:
    opd: str
    name: str
    title: str
    description: str
    license: str
    modified: dt.date | None
    keywords: tuple[str, ...]
    fields: tuple[OpenField, ...]
    key: str
    graphql: str  # the dataset's field on the OPD's query type

    @property
    def qualified(self) -> str:
        return f"{self.opd}.{self.name}"

    @property
    def readable(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.read)

    @property
    def groupable(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.aggregate)

    @property
    def downloadable(self) -> bool:
        return bool(self.readable)

    @property
    def license_url(self) -> str | None:
        if self.license.startswith(("http://", "https://")):
            return self.license
        return LICENSES.get(self.license)

    def download_path(self, fmt: str) -> str:
        return f"/public/datasets/{self.opd}/{self.name}.{fmt}"

    def page_path(self) -> str:
        return f"/public/{self.opd}/{self.name}"


@dataclass(frozen=True)
class OpenOpd:
    id: str
    name: str
    contact: str | None
    datasets: tuple[OpenDataset, ...]

    @property
    def modified(self) -> dt.date | None:
        return max((d.modified for d in self.datasets if d.modified), default=None)


@dataclass(frozen=True)
class OpenCatalog:
    opds: tuple[OpenOpd, ...]  # only OPDs with at least one open dataset, by id
    version: str  # changes whenever what the public may see changes

    def datasets(self) -> tuple[OpenDataset, ...]:
        return tuple(d for o in self.opds for d in o.datasets)

    def opd(self, opd: str) -> OpenOpd | None:
        return next((o for o in self.opds if o.id == opd), None)

    def dataset(self, opd: str, name: str) -> OpenDataset | None:
        found = self.opd(opd)
        return next((d for d in found.datasets if d.name == name), None) if found else None


def open_catalog(hub: Hub) -> OpenCatalog:
    """The open catalog under the policy in force (kept on the hub per policy version)."""
    version = hub.policy.current_version()
    kept = hub.derived.get("open_catalog")
    if kept is not None and kept[0] == version and isinstance(kept[1], OpenCatalog):
        return kept[1]
    built = build(hub.catalog, hub.policy)
    hub.derived["open_catalog"] = (version, built)
    return built


def build(catalog: Catalog, policy: Policy) -> OpenCatalog:
    audience = public_audience(catalog, policy)
    opds = []
    for opd_id in sorted(catalog.files):
        info = catalog.files[opd_id].opd
        datasets = (_open(ds, audience[ds.qualified]) for ds in sorted(catalog.of_opd(opd_id), key=_name))
        shown = tuple(d for d in datasets if d is not None)
        if shown:
            opds.append(OpenOpd(info.id, info.name, info.contact, shown))
    digest = hashlib.sha256(repr(opds).encode()).hexdigest()[:16]
    return OpenCatalog(tuple(opds), digest)


def _name(ds: Dataset) -> str:
    return ds.name


def _open(ds: Dataset, access: Access) -> OpenDataset | None:
    """The dataset as the public may see it; None when it may see none of its fields."""
    read, aggregate = access.read, access.aggregate
    fields = tuple(
        OpenField(name, f.type, f.description, name in read, name in aggregate, camel(name))
        for name, f in ds.fields.items()
        if name in read or name in aggregate
    )
    if not fields:
        return None
    spec = ds.spec
    title, description = spec.title or ds.name, spec.description or ""
    about = (title, description, spec.license, spec.modified, spec.keywords)
    return OpenDataset(ds.opd, ds.name, *about, fields, ds.key, camel(ds.name))


def base_url(hub: Hub, request: Request) -> str:
    """Where the public reaches the hub: `HUB_PUBLIC_URL`, else the request's own origin."""
    configured = hub.settings.public_url.rstrip("/")
    return configured or str(request.base_url).rstrip("/")
