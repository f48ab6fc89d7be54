"""Reference sets: questions with their reference answers and where the answer is in the documents.

Two formats are read:

- the seed set's JSONL (one object a line: id, question, answer, key, support, kind, answerable),
  whose `support` phrases are exact substrings of a document of a folder (`seeds/` for the seed);
- SQuAD v1.1 JSON (v2.0's `is_impossible` questions are read as unanswerable), whose paragraphs
  become the documents, one file each, so that the gold passage of a question is its paragraph.
"""

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from eval.errors import EvalError

EVAL_DIR = Path(__file__).resolve().parent
ROOT = EVAL_DIR.parent
SEED_FILE = EVAL_DIR / "seed.jsonl"
SEED_DOCS = ROOT / "seeds"


@dataclass(frozen=True)
class Span:
    """Where a reference answer is supported: a document, and optionally a character span in it."""

    document: str
    start: int | None = None  # None: the whole document (a SQuAD paragraph) is the gold passage
    end: int | None = None
    text: str = ""


@dataclass(frozen=True)
class Reference:
    id: str
    question: str
    answers: tuple[str, ...]  # reference answers (SQuAD may have several); empty when unanswerable
    key: str  # the phrase an answer must contain; for SQuAD, the first reference answer
    support: tuple[Span, ...]
    kind: str
    answerable: bool


@dataclass
class ReferenceSet:
    name: str  # "seed" or derived from the file name; also names the collection
    references: list[Reference]
    documents: dict[str, str] = field(default_factory=dict)  # document name -> text
    source: str = ""  # the file the references came from
    docs_dir: Path | None = None  # a folder holding the documents, when they are already files


def slug(text: str, limit: int = 40) -> str:
    """A file- and collection-name-safe version of `text`."""
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return (s[:limit].strip("-") or "set")


def load(spec: str, docs: Path | None = None) -> ReferenceSet:
    """`spec` is "seed", a SQuAD-format .json file, or a .jsonl file in the seed format (with `docs`)."""
    if spec == "seed":
        return load_jsonl(SEED_FILE, docs or SEED_DOCS, name="seed")
    path = Path(spec)
    if not path.is_file():
        raise EvalError(f"No such reference set: {spec} (use 'seed', a SQuAD .json file or a .jsonl file)")
    if path.suffix.lower() == ".jsonl":
        if docs is None:
            raise EvalError(f"{path} is a JSONL reference set: give the folder its support phrases come from with --docs")
        return load_jsonl(path, docs, name=slug(path.stem))
    return load_squad(path)


def _read_folder(folder: Path) -> dict[str, str]:
    from index.documents import read_folder

    found, _ = read_folder(folder, 20_000_000)
    return {d.name: d.text for d in found}


def load_jsonl(path: Path, docs: Path, name: str) -> ReferenceSet:
    """A seed-format set; each support phrase is located in the documents of `docs`."""
    if not Path(docs).is_dir():
        raise EvalError(f"No such documents folder: {docs}")
    texts = _read_folder(Path(docs))
    refs = []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answerable = bool(row.get("answerable", True))
            support = tuple(_locate(p, texts) for p in row.get("support", []))
            answer = row.get("answer") or ""
            refs.append(
                Reference(
                    id=str(row.get("id") or f"{name}-{line_no}"),
                    question=row["question"],
                    answers=(answer,) if answer else (),
                    key=row.get("key") or answer,
                    support=support,
                    kind=row.get("kind", "answerable" if answerable else "unanswerable"),
                    answerable=answerable,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise EvalError(f"{path}, line {line_no}: not a reference row ({e})") from None
    if not refs:
        raise EvalError(f"{path} holds no reference questions")
    return ReferenceSet(name, refs, texts, source=str(path), docs_dir=Path(docs))


def _locate(phrase: str, texts: dict[str, str]) -> Span:
    for doc, text in texts.items():
        at = text.find(phrase)
        if at >= 0:
            return Span(doc, at, at + len(phrase), phrase)
    raise ValueError(f"support phrase not found in the documents: {phrase[:60]!r}")


def load_squad(path: Path) -> ReferenceSet:
    """Every paragraph becomes a document named `<article>-<paragraph>-<title>.txt`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        articles = data["data"]
        if not isinstance(articles, list):
            raise TypeError("'data' is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise EvalError(f"{path} is not a SQuAD-format JSON file ({type(e).__name__}: {e})") from None
    documents: dict[str, str] = {}
    refs: list[Reference] = []
    try:
        for a, article in enumerate(articles):
            for p, para in enumerate(article["paragraphs"]):
                name = f"{a:03d}-{p:03d}-{slug(article.get('title', 'article'), 30)}.txt"
                documents[name] = para["context"]
                for qa in para["qas"]:
                    answers = tuple(dict.fromkeys(x["text"] for x in qa.get("answers", [])))
                    answerable = not qa.get("is_impossible", False) and bool(answers)
                    refs.append(
                        Reference(
                            id=str(qa["id"]),
                            question=qa["question"],
                            answers=answers if answerable else (),
                            key=answers[0] if answerable else "",
                            support=(Span(name),) if answerable else (),
                            kind="squad" if answerable else "unanswerable",
                            answerable=answerable,
                        )
                    )
    except (KeyError, TypeError, AttributeError) as e:
        raise EvalError(f"{path} is not a SQuAD-format JSON file (missing {e})") from None
    if not refs:
        raise EvalError(f"{path} holds no questions")
    return ReferenceSet(slug(Path(path).stem), refs, documents, source=str(path))


def sample(refs: list[Reference], n: int | None, seed: int = 0, balanced: bool = False) -> list[Reference]:
    """A fixed random sample of `n` questions (all when `n` is None or too large), in file order.

    `balanced`: half answerable, half unanswerable (as far as the set has them)."""
    if n is None or n >= len(refs):
        return list(refs)
    if balanced:
        rng = random.Random(seed)
        chosen = set()
        for answerable, want in ((True, n - n // 2), (False, n // 2)):
            pool = [i for i, r in enumerate(refs) if r.answerable is answerable]
            chosen |= set(rng.sample(pool, min(want, len(pool))))
        return [r for i, r in enumerate(refs) if i in chosen]
    chosen = set(random.Random(seed).sample(range(len(refs)), n))
    return [r for i, r in enumerate(refs) if i in chosen]


def select(refs: list[Reference], ids: list[str]) -> list[Reference]:
    by_id = {r.id: r for r in refs}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise EvalError(f"unknown question ids: {', '.join(missing)}")
    return [by_id[i] for i in ids]
