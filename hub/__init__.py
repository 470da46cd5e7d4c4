"""OPD Hub: a regency's data-exchange hub (see DESIGN.md in the shared folder)."""

__version__ = "0.1.0"
