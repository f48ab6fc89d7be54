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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bm25s.tokenization import Tokenized

IDS_FILE = "chunk_ids.json"  # in each version folder: the digest, the chunk ids in index order, the vocabulary
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
        self._ids: list[str] = []
        self._digest = ""
        self._bm25 = None
        self._vocab: set[str] = set()
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
        return len(self._ids)

    def memory_bytes(self) -> int:
        """What the index holds in memory: its BM25 arrays, ids and vocabulary (for the scale benchmark)."""
        with self._lock:
            total = sum(sys.getsizeof(i) for i in self._ids) + sum(sys.getsizeof(w) for w in self._vocab)
            if self._bm25 is not None:
                total += sum(a.nbytes for a in self._bm25.scores.values() if hasattr(a, "nbytes"))
                total += sum(sys.getsizeof(k) + 8 for k in getattr(self._bm25, "vocab_dict", {}) or {})
        return total

    def ensure(self, ids: Sequence[str], texts: Callable[[], tuple[list[str], list[str]]]) -> None:
        """Make the index cover exactly `ids`: load it from disk, or rebuild it from `texts()` (ids, texts)."""
        digest = ids_digest(ids)
        with self._lock:
            if digest == self._digest:
                return
            with self._folder_lock():
                self._ensure(digest, texts, len(ids))

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

    def _ensure(self, digest: str, texts: Callable[[], tuple[list[str], list[str]]], size: int = 0) -> None:
        if self.folder and self._load(digest):
            self._point()
            return
        loud = size >= LOUD
        if loud:  # seconds to minutes: say why, and show progress
            print(f"keyword index: no saved version for these {size:,} chunks in {self.folder or 'memory'}; building it",
                  file=sys.stderr)  # fmt: skip
        all_ids, all_texts = texts()
        self._build(all_ids, all_texts, loud)
        self._digest = ids_digest(all_ids)
        if self.folder:
            self._save()
            self._point()
            self._prune()

    def _build(self, ids: list[str], texts: list[str], progress: bool = False) -> None:
        import bm25s

        self._ids = list(ids)
        self._bm25 = None
        self._vocab = set()
        if not ids:
            return
        tokens = tokenize(texts)
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=progress)
        self._vocab = set(tokens.vocab)

    def _version(self, digest: str) -> Path:
        return self.folder / digest[:24]

    def _save(self) -> None:
        """A new version folder, written aside and renamed into place whole: never a file changed in place."""
        import shutil

        target = self._version(self._digest)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(str(partial), show_progress=False)
        (partial / IDS_FILE).write_text(json.dumps({"digest": self._digest, "ids": self._ids, "vocab": sorted(self._vocab)}))
        shutil.rmtree(target, ignore_errors=True)  # a damaged copy of the same version: its readers keep their mapping
        os.replace(partial, target)

    def _point(self) -> None:
        """Make CURRENT name this process's version (an atomic rename), so the machine's other processes take it up."""
        current = self.folder / CURRENT
        if _read_json(current).get("digest") == self._digest:
            return
        partial = current.with_name(CURRENT + ".partial")
        partial.write_text(json.dumps({"digest": self._digest}))
        os.replace(partial, current)

    def _prune(self) -> None:
        """Remove versions but the newest KEEP, and files of the layout before versions."""
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
            if meta.get("digest") != digest:
                return False
            bm25 = bm25s.BM25.load(str(folder), mmap=True, show_progress=False) if meta["ids"] else None
        except Exception:  # absent, half-written or damaged files: bm25s, numpy and json raise many kinds
            return False
        self._ids, self._vocab, self._digest, self._bm25 = meta["ids"], set(meta["vocab"]), digest, bm25
        return True

    @staticmethod
    def saved(folder: Path) -> dict:
        """What the folder's current version holds (digest, ids, vocabulary); {} when nothing is saved."""
        digest = _read_json(folder / CURRENT).get("digest")
        return _read_json(folder / digest[:24] / IDS_FILE) if digest else {}

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of up to `k` chunks sharing a term with the query, best first."""
        tokens = tokenize([query], ids=False)[0]
        with self._lock:
            if self._bm25 is None:
                return []
            words = [w for w in tokens if w in self._vocab]
            if not words:
                return []
            found, scores = self._bm25.retrieve([words], k=min(k, len(self._ids)), show_progress=False)
            return [(self._ids[int(i)], float(s)) for i, s in zip(found[0], scores[0]) if s > 0]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
