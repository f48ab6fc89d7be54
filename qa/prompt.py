"""The prompt: instructions first, then the passages best first, the question last.

llama.cpp reuses the cached start of a prompt, so what stays the same comes first. The model
is not asked to cite: citations are attached afterwards from evidence (see `qa.citations`).
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from index import Source

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage

REFUSAL = "I don't know."

SYSTEM = (
    "You answer questions about documents using only the passages given. "
    "Answer in one to three short sentences, reusing the passages' own words for names, numbers and dates. "
    f"If the passages do not contain the answer, reply only: {REFUSAL}"
)


def build_messages(question: str, passages: Sequence[Source]) -> list["ChatMessage"]:
    from llama_index.core.llms import ChatMessage, MessageRole

    ordered = sorted(passages, key=lambda p: -p.score)  # models lean on the first passage
    context = "\n\n".join(f"Passage from {p.document}:\n{p.text.strip()}" for p in ordered)
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM),
        ChatMessage(role=MessageRole.USER, content=f"{context}\n\nQuestion: {question.strip()}"),
    ]
