"""The open catalog in CKAN's shapes: a dataset as a package dict, an OPD as an
organization dict (as CKAN 2.10's package_show and organization_show return them).

Names and ids are stable:

- an organization's `name` is the OPD's id (`dinkes`), a package's is `<opd>-<dataset>`
  (`dinkes-puskesmas`): the catalog's identifiers are `[a-z][a-z0-9_]*`, which CKAN
  accepts, and `-` appears in neither, so a name has exactly one reading;
- ids are UUID 5s of the public URL of what they name (the dataset's page, its download,
  the OPD's page): the same for as long as the hub's public address is (`HUB_PUBLIC_URL`).

A dataset the public may read fields of has three resources, its downloads (CSV, NDJSON,
JSON); one the public may only count by has a single resource, a count by its first such
field through the public GraphQL API (format `GraphQL`), since no row of it is open. The
only field names in a package are those the open catalog shows, in its resources'
descriptions.

Example:
    >>> package(open_catalog(hub).dataset("dinkes", "puskesmas"), "https://data.example.go.id")
    {"id": "9f1c…", "name": "dinkes-puskesmas", "title": "Daftar Puskesmas", …}
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from hub.catalog.names import camel
from hub.http.open_catalog import OpenCatalog, OpenDataset, OpenOpd

Dict = dict[str, Any]

# the catalog's license ids -> CKAN's own (ckan/model/license.py) and their titles
CKAN_LICENSES = {
    "CC-BY-4.0": ("cc-by", "Creative Commons Attribution"),
    "CC-BY-SA-4.0": ("cc-by-sa", "Creative Commons Attribution Share-Alike"),
    "CC0-1.0": ("cc-zero", "Creative Commons CCZero"),
    "ODbL-1.0": ("odc-odbl", "Open Data Commons Open Database License (ODbL)"),
}
DOWNLOADS = {  # format -> (CKAN format, mimetype)
    "csv": ("CSV", "text/csv"),
    "ndjson": ("NDJSON", "application/x-ndjson"),
    "json": ("JSON", "application/json"),
}


def package_name(ds: OpenDataset) -> str:
    return f"{ds.opd}-{ds.name}"


def package_id(ds: OpenDataset, base: str) -> str:
    return _uuid(base + ds.page_path())


def organization_id(opd: OpenOpd, base: str) -> str:
    return _uuid(f"{base}/public/{opd.id}")


def find_package(catalog: OpenCatalog, base: str, name_or_id: str) -> OpenDataset | None:
    """The dataset whose package name or id is `name_or_id`."""
    opd, _, name = name_or_id.partition("-")
    found = catalog.dataset(opd, name)
    if found is not None:
        return found
    return next((d for d in catalog.datasets() if package_id(d, base) == name_or_id), None)


def find_organization(catalog: OpenCatalog, base: str, name_or_id: str) -> OpenOpd | None:
    return next((o for o in catalog.opds if name_or_id in (o.id, organization_id(o, base))), None)


def package(ds: OpenDataset, opd: OpenOpd, base: str) -> Dict:
    pid = package_id(ds, base)
    license_id, license_title = CKAN_LICENSES.get(ds.license, (ds.license, ds.license))
    modified = _timestamp(ds.modified)
    resources = _resources(ds, pid, base, modified)
    tags = [_tag(k) for k in ds.keywords]
    return {
        "id": pid,
        "name": package_name(ds),
        "title": ds.title,
        "notes": ds.description,
        "type": "dataset",
        "state": "active",
        "private": False,
        "url": base + ds.page_path(),
        "version": None,
        "author": None,
        "author_email": None,
        "maintainer": opd.name,
        "maintainer_email": opd.contact,
        "license_id": license_id,
        "license_title": license_title,
        "license_url": ds.license_url,
        "isopen": ds.license in CKAN_LICENSES,
        "metadata_created": None,  # the catalog does not record when a dataset was first published
        "metadata_modified": modified,
        "owner_org": organization_id(opd, base),
        "organization": organization(opd, base),
        "resources": resources,
        "num_resources": len(resources),
        "tags": tags,
        "num_tags": len(tags),
        "groups": [],
        "extras": [],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def organization(opd: OpenOpd, base: str, package_count: int | None = None) -> Dict:
    """The organization as a package embeds it; with `package_count`, as organization_list
    and organization_show give it."""
    found = {
        "id": organization_id(opd, base),
        "name": opd.id,
        "title": opd.name,
        "type": "organization",
        "description": "",
        "image_url": "",
        "created": None,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }
    if package_count is None:
        return found
    return found | {"display_name": opd.name, "image_display_url": "", "package_count": package_count}


def _resources(ds: OpenDataset, pid: str, base: str, modified: str | None) -> list[Dict]:
    if ds.downloadable:
        fields = ", ".join(ds.readable)
        described = f"Every row, with the fields the public may read: {fields}."
        found = [
            (f"{ds.title} ({ckan_format})", base + ds.download_path(fmt), ckan_format, mimetype, described)
            for fmt, (ckan_format, mimetype) in DOWNLOADS.items()
        ]
    else:
        by = ds.fields[0]  # none is readable, so each is one the public may count by
        counts = f"{ds.graphql}Aggregate(groupBy: [{by.graphql}]) {{ group {{ {by.graphql} }} count }}"
        query = f"{{ {camel(ds.opd)} {{ {counts} }} }}"
        groupable = ", ".join(ds.groupable)
        described = (
            f"No rows are open: the public may count them by {groupable} through the hub's "
            f"GraphQL API (POST /public/graphql, `{ds.graphql}Aggregate`). This link counts by {by.name}."
        )
        url = f"{base}/public/graphql?{urlencode({'query': query})}"
        found = [(f"{ds.title} (counts)", url, "GraphQL", "application/json", described)]
    return [
        {
            "id": _uuid(url),
            "package_id": pid,
            "position": position,
            "name": name,
            "description": described,
            "url": url,
            "format": ckan_format,
            "mimetype": mimetype,
            "state": "active",
            "created": None,
            "last_modified": modified,
            "metadata_modified": modified,
            "size": None,
            "hash": "",
            "url_type": None,
            "resource_type": None,
            "datastore_active": False,
        }
        for position, (name, url, ckan_format, mimetype, described) in enumerate(found)
    ]


def _tag(keyword: str) -> Dict:
    tag_id = _uuid(f"urn:opd-hub:tag:{keyword}")
    return {"id": tag_id, "name": keyword, "display_name": keyword, "state": "active", "vocabulary_id": None}


def _timestamp(day: dt.date | None) -> str | None:
    """CKAN's form, `2026-11-30T00:00:00.000000` (UTC, no offset)."""
    return None if day is None else f"{day.isoformat()}T00:00:00.000000"


def _uuid(url: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, url))
