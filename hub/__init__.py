"""OPD Hub: a regency's data-exchange hub (docs/design.md is the contract; ARCHITECTURE.md maps the code)."""

__version__ = "0.1.0"
