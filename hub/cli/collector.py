"""The garbage collector around start-up, for `hub serve` and each of its workers.

Start-up builds a million long-lived objects (catalog models, GraphQL types, SQL tables)
and little garbage; the cyclic collector, left on, scanned them again and again and took
half the start-up time of a 500-dataset catalog. So it is off until the hub has started,
then what start-up built is frozen (it lives as long as the process: never scanned
again) and collection resumes for the requests.

Example:
    >>> with collector_paused():
    ...     app = create_app(settings, started=collect_from_now_on)
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector is off in the block, and on again after it however it ends."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def collect_from_now_on() -> None:
    """Freeze what start-up built and collect from here on."""
    gc.freeze()
    gc.enable()
