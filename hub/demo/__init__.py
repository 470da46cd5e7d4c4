"""The demo regency: a deterministic, synthetic Kabupaten Karimun, one SQLite file per OPD."""
