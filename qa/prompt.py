"""The prompt: instructions first, then the passages best first, the question last.

llama.cpp reuses the cached start of a prompt, so what stays the same comes first. The model
is not asked to cite: citations are attached afterwards from evidence (see `qa.citations`).
"""

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from index import Source

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage

    from qa.excerpts import Excerpt

REFUSAL = "I don't know."

# How long an answer is: "sentence" explains in one to three sentences (the web chat's default);
# "short" gives only the phrase that answers, as SQuAD-style references are written.
STYLES = {
    "sentence": "Answer in one to three short sentences, reusing the passages' own words for names, numbers and dates. ",
    "short": "Answer with only the shortest phrase copied from the passages that answers the question "
    "(a name, a number, a date or a few words), not a sentence. ",
}


def system(style: str = "sentence") -> str:
    return (
        "You answer questions about documents using only the passages given. "
        f"{STYLES[style]}If the passages do not contain the answer, reply only: {REFUSAL}"
    )


def build_messages(question: str, passages: Sequence["Source | Excerpt"], style: str = "sentence") -> list["ChatMessage"]:
    from llama_index.core.llms import ChatMessage, MessageRole

    # In retrieval order, best first: models lean on the first passage.
    context = "\n\n".join(f"Passage from {p.document}:\n{p.text.strip()}" for p in passages)
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=system(style)),
        ChatMessage(role=MessageRole.USER, content=f"{context}\n\nQuestion: {question.strip()}"),
    ]


def instructions(style: str = "sentence") -> list["ChatMessage"]:
    """What every answering prompt begins with (`build_messages` up to the first passage), to read ahead."""
    return build_messages("", [], style)


CONDENSE = (
    "Rewrite the user's last question so that it can be understood without the conversation: "
    "replace pronouns and references with the names and subjects they stand for, and add the "
    "subject of the conversation when the question leaves it out. Reply with the rewritten question only.\n\n"
    "Example\nConversation:\nUser: What did the mayor promise the city?\nAssistant: She promised new parks.\n"
    "Last question: And what did the council say?\n"
    "Rewritten: What did the council say about the mayor's promise of new parks?"
)


def condense_messages(question: str, history: Sequence[tuple[str, str]], turns: int = 2) -> list["ChatMessage"]:
    """A short prompt: only the last `turns` exchanges, answers cut and stripped of [n] markers."""
    from llama_index.core.llms import ChatMessage, MessageRole

    lines = []
    for asked, answered in list(history)[-turns:]:
        answered = re.sub(r"\s*\[\d+\]", "", answered)[:300]
        lines += [f"User: {asked}", f"Assistant: {answered}"]
    conversation = "\n".join(lines)
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=CONDENSE),
        ChatMessage(role=MessageRole.USER, content=f"Conversation:\n{conversation}\nLast question: {question}\nRewritten:"),
    ]
