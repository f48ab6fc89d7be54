"""An indexer that stops at a named point of its run, for fault tests: `qa index` with a checkpoint hook.

    python -m tests.indexer STORE COLLECTION FOLDER POINT N MARKER

Indexes FOLDER like `qa index`; the N-th time the store reaches POINT ("embedded", "written",
"added", see `index.store.Store.sync`) it writes MARKER and waits there to be killed.
"""

import sys
import time
from pathlib import Path


def main(store: str, collection: str, folder: str, point: str, n: str, marker: str) -> None:
    import qa

    seen = 0

    def checkpoint(at: str, done: int, total: int) -> None:
        nonlocal seen
        if at != point:
            return
        seen += 1
        if seen == int(n):
            Path(marker).write_text(f"{at} {done}/{total}")
            while True:
                time.sleep(3600)

    settings = qa.Settings(store={"dir": store, "collection": collection})
    qa.open_store(settings, create=True).sync(Path(folder), progress=False, checkpoint=checkpoint)
    Path(marker).write_text("finished")  # the point was never reached: the test says so


if __name__ == "__main__":
    main(*sys.argv[1:7])
