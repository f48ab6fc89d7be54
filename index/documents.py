"""Read the documents of a folder: their names, text and content hash."""

import bisect
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import StoreError
from index.readers import Unreadable, read_text

SUFFIXES = (".txt", ".md", ".pdf", ".html", ".htm", ".docx")


@dataclass(frozen=True)
class Document:
    name: str  # path relative to the indexed folder, with forward slashes
    text: str
    sha256: str  # of the file's bytes
    pages: tuple[int, ...] = ()  # where each page starts in `text`, for paged formats

    def page_at(self, offset: int) -> int | None:
        """1-based page number of a character offset, or None when the format has no pages."""
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def read_folder(path: Path, max_bytes: int) -> tuple[list[Document], list[Skipped]]:
    """Read every supported file under `path` (or `path` itself when it is a file).

    A file that cannot be read is skipped with its reason; the rest is still returned.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"No such file or folder: {path}")
    root = path if path.is_dir() else path.parent
    entries = sorted(path.rglob("*")) if path.is_dir() else [path]
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for file in entries:
        name = file.relative_to(root).as_posix()
        if any(part.startswith(".") for part in file.relative_to(root).parts):
            continue
        if file.is_symlink() and not file.resolve().is_relative_to(root.resolve()):
            skipped.append(Skipped(_printable(name), "symlink pointing outside the folder"))
            continue
        if not file.is_file():
            continue
        if _printable(name) != name:
            skipped.append(Skipped(_printable(name), "its name is not valid UTF-8: rename the file"))
            continue
        if file.suffix.lower() not in SUFFIXES:
            skipped.append(Skipped(name, f"unsupported type (supported: {', '.join(SUFFIXES)})"))
            continue
        reason = _unreadable(file, root, max_bytes)
        if reason:
            skipped.append(Skipped(name, reason))
            continue
        try:
            text, pages = read_text(file)
        except Unreadable as e:
            skipped.append(Skipped(name, str(e)))
            continue
        if not text.strip():
            skipped.append(Skipped(name, "no text in it"))
            continue
        docs.append(Document(name, text, hashlib.sha256(file.read_bytes()).hexdigest(), tuple(pages)))
    return docs, skipped


def _printable(name: str) -> str:
    """The name with bytes that are not UTF-8 (kept by Python as surrogates) shown as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unreadable(file: Path, root: Path, max_bytes: int) -> str | None:
    size = file.stat().st_size
    if size > max_bytes:
        return f"too large ({size:,} bytes; the limit is {max_bytes:,}, setting QA_STORE_MAX_FILE_BYTES)"
    return None


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under `path`: cheap to compare, to notice that something changed."""
    path = Path(path)
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path] if path.exists() else []
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for f in files}


@dataclass
class IndexReport:
    """What one indexing run did: documents and chunks counted, embedded, skipped (with why), and its time."""

    documents: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
