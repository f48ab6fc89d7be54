"""BM25 over a collection's chunks (bm25s, English stop words, Snowball stems), saved beside the store.

Embeddings find paraphrases; BM25 finds rare names and numbers that embeddings blur. The index
is rebuilt whenever the collection's chunks change (checked by a hash of their ids), so it is
never out of step with Chroma and never rebuilt per query.

One index per machine, not per process: whoever writes the collection (the indexer) builds the
index and saves it as a new version folder, named by the ids' digest, then points `CURRENT` at it
(an atomic rename). Every process on the machine memory-maps the version `CURRENT` names, so the
arrays sit once in the page cache, and notices a new one by one `stat` of `CURRENT` per query. A
version is never written in place (a mapped file must not change under its readers); the one
before stays for a reader that is just opening it, older ones are removed.

The arrays are built and scored in `index.bm25`. A write that adds or removes few chunks (up to
MAX_DELTA of them) does not rebuild them: the new version links the last whole build's files (hard
links: no copy, one page cache) and adds a small delta index of the chunks added since, scored with the
whole build's statistics, and the rows of the chunks removed since. Past MAX_DELTA, a whole build.

Each chunk is indexed with the words of its document's name: a chunk of "Super_Bowl_50.txt" that
says only "the game" still matches a question about the Super Bowl. On XQuAD (1,190 questions)
this raised hit@1 of the fused retrieval from 0.949 to 0.954.
"""

import contextlib
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.bm25 import Ids, Stats, build, df_of, top

if TYPE_CHECKING:
    from bm25s.tokenization import Tokenized

Pages = Iterable[tuple[list[str], list[str]]]  # (ids, indexed texts), a page at a time
IDS_FILE = "chunk_ids.json"  # in each version folder: the digest, the number of chunks, the build's mean length
IDS_ARRAY = "chunk_ids.npy"  # the whole build's chunk ids in index order, memory-mapped like the scores
DELTA, DELTA_IDS, DROPPED = "delta", "delta_ids.npy", "dropped.npy"  # chunks added since the whole build; rows removed
BASE_FILES = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json",
              "params.index.json", IDS_ARRAY)  # fmt: skip
MAX_DELTA = 0.05  # of the whole build's chunks, added or removed, beyond which a write builds it whole again
CURRENT = "CURRENT"  # names the version in use: {"digest": ...}
LOCK_FILE = ".lock"
KEEP = 2  # versions kept: the current one and the one before
LOUD = 50_000  # chunks from which a build says so and shows progress (about 5 s)
RECIPE = "name-words-1"  # what a chunk's indexed text is made of: a saved index of another recipe is rebuilt


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join([RECIPE, *sorted(ids)]).encode()).hexdigest()


def keyword_text(document: str, text: str) -> str:
    """The chunk's text after the words of its document's name, less extension, numbers and hashes."""
    stem = document.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    title = [w for w in re.split(r"[\W_]+", stem) if w and not any(ch.isdigit() for ch in w)]
    return " ".join(title) + "\n" + text if title else text


def tokenize(texts: list[str], ids: bool = True) -> "Tokenized | list[list[str]]":
    """The BM25 tokens of `texts`: lower-cased words of two characters or more, less stop words, stemmed.

    bm25s's English stop words and the Snowball English stemmer. With `ids`, a `bm25s` Tokenized
    (token ids and their vocabulary) to build an index from; without, one list of words per text,
    to search with. Changing this recipe changes what saved indexes hold: bump RECIPE with it.
    """
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=ids, show_progress=False)


class KeywordIndex:
    def __init__(self, folder: Path | None) -> None:
        """`folder` keeps the index between processes; None keeps it in memory only."""
        self.folder = folder
        self._digest = ""
        self._base, self._base_ids, self._base_folder = None, [], None  # the last whole build
        self._delta, self._delta_ids = None, []  # chunks added since
        self._dropped = np.array([], dtype=np.int64)  # the whole build's rows removed since (sorted)
        self._seen: tuple[int, int, int] | None = None  # CURRENT's (inode, size, mtime) when last read
        # One thread may rebuild the index while others search it (indexing while answering):
        # a search never sees the ids of one build with the BM25 matrix of another.
        self._lock = threading.RLock()

    @property
    def digest(self) -> str:
        """The digest of the chunk ids the index covers ("" before any)."""
        return self._digest

    def follow(self) -> bool:
        """Take up the version another process saved since this one last looked: one `stat` when none did.
        True when a new version was loaded."""
        if self.folder is None:
            return False
        try:
            st = os.stat(self.folder / CURRENT)
        except OSError:
            return False
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen == self._seen:
            return False
        with self._lock:
            self._seen = seen
            digest = _read_json(self.folder / CURRENT).get("digest")
            return bool(digest) and digest != self._digest and self._load(digest)

    @property
    def size(self) -> int:
        """Number of chunks the index covers."""
        return len(self._base_ids) - len(self._dropped) + len(self._delta_ids)

    def memory_bytes(self) -> int:
        """What the index's arrays, ids and vocabulary take (mapped or not: for the scale benchmark)."""
        with self._lock:
            total = getattr(self._base_ids, "nbytes", 0) or sum(sys.getsizeof(i) for i in self._base_ids)
            for bm25 in (b for b in (self._base, self._delta) if b is not None):
                total += sum(a.nbytes for a in bm25.scores.values() if hasattr(a, "nbytes"))
                total += sum(sys.getsizeof(k) + 8 for k in bm25.vocab_dict)
            return total

    def ensure(self, ids: Sequence[str], pages: Callable[[], Pages], texts_of: Callable[[list[str]], Pages] | None = None) -> None:
        """Make the index cover exactly `ids`: load it from disk, extend the last whole build with the chunks
        `texts_of(ids)` gives, or build it whole from `pages()`."""
        digest = ids_digest(ids)
        with self._lock:
            if digest == self._digest:
                return
            with self._folder_lock():
                self._ensure(digest, ids, pages, texts_of)

    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[None]:
        """Processes of one machine share the folder (app instances on one Chroma server): one loads or saves at a time."""
        if self.folder is None:
            yield
            return
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK_FILE, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _ensure(self, digest: str, ids: Sequence[str], pages: Callable[[], Pages], texts_of) -> None:
        if self.folder and self._load(digest):
            self._point()
            return
        if self.folder and self._base is None:  # a writer's first look: the machine's version, to extend
            current = _read_json(self.folder / CURRENT).get("digest")
            if current:
                self._load(current)
        if not (texts_of and self._extend(ids, texts_of)):
            if len(ids) >= LOUD:  # seconds to minutes: say why, and show progress
                print(f"keyword index: no saved version for these {len(ids):,} chunks in {self.folder or 'memory'}; "
                      "building it", file=sys.stderr)  # fmt: skip
            built_ids, self._base = build(pages(), _words, len(ids), progress=len(ids) >= LOUD)
            self._base_ids, self._base_folder = built_ids, None
            self._delta, self._delta_ids, self._dropped = None, [], np.array([], dtype=np.int64)
            digest = ids_digest(built_ids)
        self._digest = digest
        if self.folder:
            self._save()
            self._point()
            self._prune()

    def _extend(self, ids: Sequence[str], texts_of: Callable[[list[str]], Pages]) -> bool:
        """The last whole build plus a delta of the chunks added since and the rows removed since; False when
        there is no build to extend or the change is past MAX_DELTA (then it is built whole)."""
        if self._base is None or getattr(self._base, "avgdl", None) is None:
            return False
        wanted, limit = set(ids), MAX_DELTA * len(self._base_ids)
        dropped = np.fromiter((row for row, i in enumerate(self._base_ids) if i not in wanted), np.int64)
        added = sorted(wanted.difference(self._base_ids))
        if len(added) > limit or len(dropped) > limit:
            return False
        stats = Stats(len(self._base_ids), df_of(self._base), self._base.avgdl)
        delta_ids, delta = build(texts_of(added), _words, len(added), stats=stats)
        if sorted(delta_ids) != added:  # chunks deleted while they were read: build it whole
            return False
        self._delta, self._delta_ids, self._dropped = delta, delta_ids, dropped
        return True

    def _version(self, digest: str) -> Path:
        return self.folder / digest[:24]

    def _save(self) -> None:
        """A new version folder, written aside and renamed into place whole: never a file changed in place."""
        import shutil

        target = self._version(self._digest)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:  # the whole build's files shared with the version it came from, not copied
            if self._base_folder is None or self._base_folder == target:
                raise FileNotFoundError("no earlier version")
            for f in (f for f in BASE_FILES if (self._base_folder / f).exists()):
                os.link(self._base_folder / f, partial / f)
            if not (partial / IDS_ARRAY).exists():
                raise FileNotFoundError(IDS_ARRAY)
        except OSError:  # none, pruned meanwhile, or a file system without links: written out
            for f in partial.iterdir():
                f.unlink()
            if self._base is not None:
                self._base.save(str(partial), show_progress=False)
            np.save(partial / IDS_ARRAY, Ids.array(self._base_ids))
        if self._delta is not None:
            self._delta.save(str(partial / DELTA), show_progress=False)
        np.save(partial / DELTA_IDS, Ids.array(self._delta_ids))
        np.save(partial / DROPPED, self._dropped)
        meta = {"digest": self._digest, "chunks": self.size, "terms": self._base is not None,
                "avgdl": getattr(self._base, "avgdl", None), "delta_terms": self._delta is not None}  # fmt: skip
        (partial / IDS_FILE).write_text(json.dumps(meta))
        shutil.rmtree(target, ignore_errors=True)  # a damaged copy of the same version: its readers keep their mapping
        os.replace(partial, target)
        self._base_folder = target

    def _point(self) -> None:
        """Make CURRENT name this process's version (an atomic rename), so the machine's other processes take it up."""
        current = self.folder / CURRENT
        if _read_json(current).get("digest") == self._digest:
            return
        partial = current.with_name(CURRENT + ".partial")
        partial.write_text(json.dumps({"digest": self._digest}))
        os.replace(partial, current)

    def _prune(self) -> None:
        """Remove versions but the newest KEEP, and files of the layout before versions. A version's files
        linked from an older one stay: a name is removed, not the file."""
        import shutil

        entries = [p for p in self.folder.iterdir() if p.name not in (CURRENT, LOCK_FILE)]
        versions = sorted((p for p in entries if p.is_dir() and not p.name.endswith(".partial")), key=lambda p: p.stat().st_mtime_ns)
        keep = {self._version(self._digest), *versions[-KEEP:]}
        for p in (p for p in entries if p not in keep):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)

    def _load(self, digest: str) -> bool:
        """The saved version of `digest`, its arrays memory-mapped; False when it is missing or damaged
        (the caller rebuilds it)."""
        import bm25s

        folder = self._version(digest)
        try:
            meta = json.loads((folder / IDS_FILE).read_text())
            base_ids = Ids(np.load(folder / IDS_ARRAY, mmap_mode="r"))
            base = bm25s.BM25.load(str(folder), mmap=True, show_progress=False) if meta.get("terms") else None
            if base is not None:
                base.avgdl = meta.get("avgdl")
            delta = bm25s.BM25.load(str(folder / DELTA), mmap=True, show_progress=False) if meta.get("delta_terms") else None
            delta_ids = list(Ids(np.load(folder / DELTA_IDS))) if (folder / DELTA_IDS).exists() else []
            dropped = np.load(folder / DROPPED) if (folder / DROPPED).exists() else np.array([], dtype=np.int64)
            if meta.get("digest") != digest or meta.get("chunks") != len(base_ids) - len(dropped) + len(delta_ids):
                return False
        except Exception:  # absent, half-written or damaged files: bm25s, numpy and json raise many kinds
            return False
        self._base, self._base_ids, self._base_folder = base, base_ids, folder
        self._delta, self._delta_ids, self._dropped, self._digest = delta, delta_ids, dropped, digest
        return True

    @staticmethod
    def saved(folder: Path) -> dict:
        """What the folder's current version holds (digest, chunks, ids); {} when nothing is saved."""
        index = KeywordIndex(folder)
        digest = _read_json(folder / CURRENT).get("digest")
        if not digest or not index._load(digest):
            return {}
        return {"digest": digest, "chunks": index.size, "ids": index.ids()}

    def ids(self) -> list[str]:
        """The chunk ids the index covers (reads every one: for checks, not for queries)."""
        with self._lock:
            dropped = set(self._dropped.tolist())
            return [i for row, i in enumerate(self._base_ids) if row not in dropped] + list(self._delta_ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of up to `k` chunks sharing a term with the query, best first."""
        words = _words([query])[0]
        with self._lock:
            hits = []
            for bm25, ids, dropped in ((self._base, self._base_ids, self._dropped), (self._delta, self._delta_ids, None)):
                if bm25 is not None:
                    rows, scores = top(bm25, words, k, dropped)
                    hits += [(ids[int(r)], float(s)) for r, s in zip(rows, scores)]
            return sorted(hits, key=lambda h: -h[1])[:k]


def _words(texts: list[str]) -> list[list[str]]:
    return tokenize(texts, ids=False)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
