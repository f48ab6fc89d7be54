"""When a query may trust the keyword index without fetching every chunk id.

Each writer saves the index (this machine's other processes take it up by one `stat` of its CURRENT file)
and writes its digest into the collection's metadata, which instances elsewhere read once per query: one
value, not a million ids. A writer that publishes nothing (hybrid off) is caught by the count, looked at
every `recheck` seconds and acted on once it has stopped moving (not in the middle of a write).
"""

import time
from collections.abc import Callable

from index.keyword import KeywordIndex

RECHECK = 30.0


class KeywordWatch:
    def __init__(self, recheck: float = RECHECK) -> None:
        self.recheck = recheck
        self.trusted = False  # the index is the collection's, as far as the signals tell
        self._doubted = False  # the index named a deleted chunk: fetch the ids, whatever was published
        self._answered = ""  # the published digest this process last rebuilt or loaded for
        self._counted: tuple[float, int] = (time.monotonic(), -1)  # when the count was looked at, and what it was

    def look(self, index: KeywordIndex, published: str, count: Callable[[], int]) -> None:
        """Before a query: take up what changed. A process starting up trusts the saved version the
        collection's metadata names, without fetching every id."""
        if index.follow():  # this machine's indexer; its digest may be published a moment later
            self.trusted, self._answered = True, published
        if published != index.digest and published != self._answered:
            self.trusted, self._answered = False, published  # rebuilt once for it, even mid-write
        elif published and published == index.digest and not self._doubted:
            self.trusted = True
        at, counted = self._counted
        if time.monotonic() - at > self.recheck:
            now = count()
            if now == counted != index.size:
                self.trusted = False
            self._counted = (time.monotonic(), now)

    def doubt(self) -> None:
        self.trusted, self._doubted = False, True

    def settled(self) -> None:
        """The index was just checked against every id."""
        self.trusted, self._doubted = True, False
