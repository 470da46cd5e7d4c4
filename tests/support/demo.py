"""The demo regency for tests: generated into a directory that HUB_DEMO_DIR points at
(the demo catalog's sources are `${HUB_DEMO_DIR}/<opd>.db`) for as long as it is used."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hub.demo.generate import generate


@contextmanager
def demo_regency(data_dir: Path, residents: int | None = None) -> Iterator[Path]:
    """HUB_DEMO_DIR at `data_dir` within the block; with `residents`, the regency is
    generated there first (else the caller generates it, as `start_demo_hub` does)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUB_DEMO_DIR", str(data_dir))
        if residents is not None:
            generate(data_dir, residents=residents, progress=False)
        yield data_dir
