"""Training and test pairs for the verifier, from SQuAD-format files, split by article.

Imports only the standard library: the trainer runs where the project is not installed (a GPU machine).

Each pair is (claim, evidence, label). The claim is a question, or a question and a proposed
answer ("... Answer: ..."), as the product asks it; the evidence is a window of consecutive
sentences of a paragraph, at most about one chunk long (the product's chunks are 128 tokens).

Per question (the kinds are written into each pair, and counted in the manifest):
- `ask`: the question against a window holding its answer sentence: 1 when answerable; for a
  SQuAD 2.0 unanswerable question, the window holding its `plausible_answers` span: 0 (the decoy).
- `easy`: the question against a window of another paragraph of the same article: 0.
- `claim`: the question and its answer (the span, or the sentence that holds it) against the
  answer's window: 1; with the decoy span or sentence of an unanswerable question: 0.
- `wrong`: an answerable question with the answer of another question on the same paragraph: 0.
- `elsewhere`: an answerable question and its answer against a window of the same paragraph
  without the answer's sentence: 0 (what lets the product cite the sentence, not the paragraph).
- `swap` (with `swaps=True`): an answerable question and its answer sentence with one name or number
  replaced by another of the same window, against that window: 0 (the detail is in the passage,
  but not where the claim puts it).
"""

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

ANSWER = " Answer: "
WINDOW_CHARS = 600  # about 128 tokens of English prose: one chunk
_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class Pair:
    claim: str
    evidence: str
    label: int
    kind: str
    article: str


def claim(question: str, answer: str | None = None) -> str:
    """The verifier's first text: the question, and the proposed answer when there is one."""
    return question if not answer else f"{question}{ANSWER}{answer}"


def sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _holding(spans: list[tuple[int, int]], at: int) -> int:
    return next((i for i, (s, e) in enumerate(spans) if s <= at < e), len(spans) - 1)


def _window(text: str, spans: list[tuple[int, int]], i: int, rng: random.Random) -> str:
    """Consecutive sentences around sentence `i`, grown at random up to WINDOW_CHARS."""
    lo = hi = i
    target = rng.randint(1, WINDOW_CHARS)
    while spans[hi][1] - spans[lo][0] < target:
        grow = [d for d, ok in (("lo", lo > 0), ("hi", hi < len(spans) - 1)) if ok]
        if not grow:
            break
        if rng.choice(grow) == "lo":
            lo -= 1
        else:
            hi += 1
    return text[spans[lo][0] : spans[hi][1]][: WINDOW_CHARS * 2]


def _outside(text: str, spans: list[tuple[int, int]], i: int, rng: random.Random) -> str | None:
    """A window of the paragraph that does not hold sentence `i`."""
    others = [j for j in range(len(spans)) if j != i]
    if not others:
        return None
    j = rng.choice(others)
    lo = hi = j
    while spans[hi][1] - spans[lo][0] < WINDOW_CHARS // 2:
        if hi + 1 < len(spans) and hi + 1 != i:
            hi += 1
        elif lo - 1 >= 0 and lo - 1 != i:
            lo -= 1
        else:
            break
    return text[spans[lo][0] : spans[hi][1]]


def load(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["data"]


_DETAIL = re.compile(r"\b(?:[A-Z][a-z]+(?:\s[A-Z][a-z]+)*|\d[\d,.]*)\b")


def _swapped(sentence: str, window: str, rng: random.Random) -> str | None:
    """`sentence` with one of its names or numbers replaced by another of the same kind from `window`."""
    own = [m for m in _DETAIL.finditer(sentence) if m.start() > 0 or m.group()[0].isdigit()]  # not the capital that starts it
    if not own:
        return None
    m = rng.choice(own)
    digit = m.group()[0].isdigit()
    others = sorted({o.group() for o in _DETAIL.finditer(window) if o.group()[0].isdigit() == digit and o.group() not in sentence})
    if not others:
        return None
    return sentence[: m.start()] + rng.choice(others) + sentence[m.end() :]


def pairs(articles: list[dict], seed: int = 0, swaps: bool = False) -> list[Pair]:
    rng = random.Random(seed)
    out: list[Pair] = []
    for article in articles:
        title = article.get("title", "")
        paragraphs = article["paragraphs"]
        for pi, para in enumerate(paragraphs):
            text = para["context"]
            spans = sentences(text)
            golds = [q["answers"][0] for q in para["qas"] if q.get("answers")]
            for q in para["qas"]:
                answerable = not q.get("is_impossible", False) and bool(q.get("answers"))
                spanned = q["answers"] if answerable else q.get("plausible_answers") or []
                if not spanned:
                    continue
                a = spanned[0]
                i = _holding(spans, a["answer_start"])
                window = _window(text, spans, i, rng)
                label = int(answerable)
                question = q["question"].strip()
                out.append(Pair(claim(question), window, label, "ask", title))
                if len(paragraphs) > 1:
                    other = paragraphs[rng.choice([j for j in range(len(paragraphs)) if j != pi])]["context"]
                    ospans = sentences(other)
                    out.append(Pair(claim(question), _window(other, ospans, rng.randrange(len(ospans)), rng), 0, "easy", title))
                said = a["text"] if rng.random() < 0.5 else text[spans[i][0] : spans[i][1]]
                out.append(Pair(claim(question, said), window, label, "claim", title))
                if answerable:
                    wrong = [g for g in golds if g["text"].lower() not in a["text"].lower() and a["text"].lower() not in g["text"].lower()]
                    if wrong:
                        w = rng.choice(wrong)
                        wi = _holding(spans, w["answer_start"])
                        said = w["text"] if rng.random() < 0.5 else text[spans[wi][0] : spans[wi][1]]
                        out.append(Pair(claim(question, said), _window(text, spans, wi, rng), 0, "wrong", title))
                    if swaps:
                        changed = _swapped(text[spans[i][0] : spans[i][1]], window, rng)
                        if changed:
                            out.append(Pair(claim(question, changed), window, 0, "swap", title))
                    away = _outside(text, spans, i, rng)
                    if away and a["text"] not in away:
                        out.append(Pair(claim(question, a["text"]), away, 0, "elsewhere", title))
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split(articles: list[dict], held: set[str]) -> tuple[list[dict], list[dict]]:
    """(training articles, held-apart articles) by title."""
    return [a for a in articles if a["title"] not in held], [a for a in articles if a["title"] in held]


def wice_pairs(path: Path, seed: int = 0) -> list[Pair]:
    """Claim/evidence pairs from WiCE (ryokamoi/wice, annotations ODC-BY): a Wikipedia claim against the
    web-page sentences annotated as its support: 1 when "supported", 0 when only partially or not; and
    against as many sentences of the same page outside every support set: 0."""
    rng = random.Random(seed)
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        evidence, groups = row["evidence"], row.get("supporting_sentences") or []
        used = {i for g in groups for i in g}
        if groups:
            text = " ".join(evidence[i] for i in groups[0] if i < len(evidence))[: WINDOW_CHARS * 2]
            out.append(Pair(row["claim"], text, int(row["label"] == "supported"), "wice", "wice"))
        rest = [i for i in range(len(evidence)) if i not in used and len(evidence[i]) > 40]
        if len(rest) >= 2:
            k = rng.randrange(len(rest) - 1)
            out.append(Pair(row["claim"], " ".join(evidence[i] for i in rest[k : k + 3]), 0, "wice", "wice"))
    return out
