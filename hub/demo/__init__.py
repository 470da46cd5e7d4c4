"""The demo regency: a deterministic, synthetic Kabupaten Karimun, one SQLite file per OPD.

Its catalog (`schema/`, one YAML file per OPD, with the JSON Schema of the format) and
policy (`policies/`: the Casbin model the hub ships and the demo's rules) are package
data, so `hub demo` runs from any directory; the repository's top-level `schema/` and
`policies/` link here.
"""

from pathlib import Path

DEMO_SCHEMA = Path(__file__).resolve().parent / "schema"
DEMO_POLICIES = Path(__file__).resolve().parent / "policies"
