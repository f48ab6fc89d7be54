"""Text as every step reads it: sentences with their offsets, content words, numbers and names.

Citations, excerpts, the answerhood check and the eval all split and compare text with these, so
a sentence or a word means the same thing everywhere. Words are Snowball stems, as BM25 stems them
(index.keyword): "days" and "day", "attacks" and "attacking" meet.
"""

import re
import threading

_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n\s*\n|\n")
# A single line break inside hard-wrapped prose is a space; after a short line (a heading, a list item) or
# before a list item or heading it ends the sentence, as a blank line always does.
_BLOCK = re.compile(r"\s*(?:[#>*•-]|\d+[.)]\s)")
SHORT_LINE = 50
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NUMBER_WORDS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "thousands", "million", "billion",
    "first", "second", "third", "fourth", "fifth", "half", "quarter",
}  # fmt: skip
_DIGITS = {
    w: str(i)
    for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
} | {"twenty": "20", "thirty": "30", "forty": "40", "fifty": "50"}
_STOP = set(
    "a an the and or but if of to in on at by for with from as into onto about over under than then so "
    "is are was were be been being has have had do does did will would can could should may might must "
    "it its it's this that these those there here they them their he him his she her we our you your i "
    "me my not no nor also just only very more most such which who whom whose what when where why how "
    "said says say according".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace trimmed."""
    spans, start = [], 0
    for m in _END.finditer(text):
        if m.group() == "\n":
            line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
            if len(line.strip()) >= SHORT_LINE and not _BLOCK.match(text, m.end()):
                continue  # a wrapped line: the sentence goes on
        before = text[start : m.start()].split()
        if m.group().startswith(".") and before and re.fullmatch(r"(?:[A-Z]\.?)+|Mr|Mrs|Ms|Dr|St|vs|etc", before[-1]):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


_stemmers = threading.local()  # a PyStemmer object is not safe to share between threads


def stem(word: str) -> str:
    """The Snowball English stem, as BM25 stems (index.keyword): "days" and "day", "attacks" and "attacking"
    meet. A possessive is dropped first, whichever apostrophe it has."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(re.sub(r"['’]s$", "", word.lower()))


def content_words(text: str) -> set[str]:
    return {_DIGITS.get(w.lower()) or stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP}


def names(text: str, common: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """Capitalised words and acronyms (people, places, organisations), stemmed as passages' words are.

    Stemming drops a possessive whichever apostrophe it has: models write "Ukraine's" where the
    document has "Ukraine’s". The first word of `text` is capitalised as any sentence's is: it is a
    name only when `common` (the stems of words written in lower case where it is read, see
    `lower_case`) does not hold it: "Creating highways ..." to a question that says "creating".
    """
    words = _WORD.findall(text)
    found = {stem(w) for w in words if w[0].isupper() and w.lower() not in _STOP | _NUMBER_WORDS}
    if words and words[0][0].isupper() and stem(words[0]) in common and words[1:].count(words[0]) == 0:
        found.discard(stem(words[0]))
    return found


def lower_case(text: str) -> set[str]:
    """The stems of the words `text` writes in lower case: what is a common word, not a name, there."""
    return {stem(w) for w in _WORD.findall(text) if w.islower()}


def named(name: str, words: set[str]) -> bool:
    """`words` hold `name`, or the same name with an ending of at most two letters more or less:
    "Russia" in "Russian forces", "Korean" in "South Korea" (not "Austria" in "Australia")."""
    if name in words:
        return True
    if len(name) < 5:
        return False
    return any(
        abs(len(w) - len(name)) <= 2 and min(len(w), len(name)) >= 5 and (w.startswith(name) or name.startswith(w))
        for w in words
    )


def given_names(text: str, known: set[str]) -> set[str]:
    """Names of `text` that lead another name ("Alexander" of "Alexander Grushko") and that `known` holds.

    A passage that says "Grushko said ..." holds the claim "Alexander Grushko said ..." when the full
    name is elsewhere in what the model read: the surname carries the claim, and the first name is
    not invented. Without this, a second passage was cited for the first name alone.
    """
    words = _WORD.findall(text)
    leading = set()
    for w, nxt in zip(words, words[1:]):
        if w[0].isupper() and nxt[0].isupper() and w.lower() not in _STOP | _NUMBER_WORDS:
            leading.add(stem(w))
    return leading & known


def numbers(text: str) -> set[str]:
    """The numbers of `text`, small ones as digits whichever way they are written ("three" and "3")."""
    words = {_DIGITS.get(w, w) for w in (w.lower() for w in _WORD.findall(text))}
    return {w for w in words if w.isdigit() or w in _NUMBER_WORDS}




def every_word(text: str) -> set[str]:
    """Every word of `text`, lower-cased and stemmed too: where a claim's names are looked up."""
    every = {w.lower() for w in _WORD.findall(text)}
    return every | {stem(w) for w in every}
