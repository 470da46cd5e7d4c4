"""Which entries a cache takes: only what has been asked for before.

A cache keyed by what callers send (query texts, statement shapes) fills with whatever
arrives. Distinct queries by the thousand, from a fuzzer or an adversary, are each asked
once, yet each would be parsed or compiled, kept, and push out what real clients ask
again and again; the process's memory grows until the cache's bound. A `Doorkeeper` lets
a cache take a key only at its second sighting: a key asked once costs the work again
on its second request, nothing more, and keys asked once are never kept.
"""

from __future__ import annotations

from collections.abc import Hashable


class Doorkeeper:
    """Remembers the hashes of recently seen keys, in two generations of up to `size`
    each: a key seen in either is `again`. A false "again" (two keys of one hash) only
    lets a cache keep an entry it did not need to."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._current: set[int] = set()
        self._previous: set[int] = set()

    def again(self, key: Hashable) -> bool:
        """Was `key` seen before (among the last `size` to `2 * size` keys)? Remembers it."""
        h = hash(key)
        if h in self._current or h in self._previous:
            return True
        if len(self._current) >= self.size:
            self._previous, self._current = self._current, set()
        self._current.add(h)
        return False
