"""The dataset catalog: one YAML file per OPD, loaded once into frozen, validated models.

`model` holds the models and the loaded `Catalog`; `loading` reads a directory of
files (all or nothing); `checks` holds the rules the models cannot express;
`yamlfile` reads YAML with duplicate keys and `${VAR}` expansion; `names` turns
catalog names into GraphQL ones. The names below are the package's public API.
"""

from hub.catalog.loading import load_catalog, load_file
from hub.catalog.model import (
    NUMERIC_TYPES,
    Catalog,
    CatalogFile,
    Dataset,
    DatasetSpec,
    FieldSpec,
    FieldType,
    OpdInfo,
    Pagination,
    RelationshipSpec,
    SourceSpec,
    json_schema,
)
from hub.errors import CatalogError, Problem

__all__ = [
    "NUMERIC_TYPES", "Catalog", "CatalogError", "CatalogFile", "Dataset", "DatasetSpec", "FieldSpec",
    "FieldType", "OpdInfo", "Pagination", "Problem", "RelationshipSpec", "SourceSpec", "json_schema",
    "load_catalog", "load_file",
]  # fmt: skip
