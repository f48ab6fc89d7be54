"""Split documents into passages that fit the embedding model, keeping exact character offsets."""

import hashlib
from collections.abc import Callable

from llama_index.core import Document as LlamaDocument
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode

from index.documents import Document
from index.minilm import MAX_TOKENS

_KEYS = ["document", "doc_sha256", "chunk", "chunks", "start", "end", "page"]


def make_splitter(tokenize: Callable[[str], list], chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    if not 16 <= chunk_size <= MAX_TOKENS:
        raise ValueError(f"chunk_size must be between 16 and {MAX_TOKENS} tokens, got {chunk_size}")
    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=tokenize,
        include_metadata=False,
        include_prev_next_rel=False,
    )


def chunk_id(doc: Document, index: int) -> str:
    """Stable id: the same document content always gives the same ids, whatever the run."""
    name = hashlib.sha1(doc.name.encode()).hexdigest()[:12]
    return f"{name}-{doc.sha256[:16]}-{index:05d}"


def _spans(doc: Document, splitter: SentenceSplitter) -> list[tuple[int, str]]:
    """(start, text) of each chunk; a paged document is split page by page, so no chunk spans two pages."""
    bounds = [*doc.pages, len(doc.text)] if doc.pages else [0, len(doc.text)]
    spans = []
    for lo, hi in zip(bounds, bounds[1:]):
        part = doc.text[lo:hi]
        if not part.strip():
            continue
        cursor = 0
        for node in splitter.get_nodes_from_documents([LlamaDocument(text=part, id_=doc.name)]):
            text = node.get_content()
            at = part.find(text, cursor)
            if at < 0:
                at = part.find(text)
            if at < 0:
                raise RuntimeError(f"a chunk of {doc.name} is not a span of the document")
            cursor = at + 1
            spans.append((lo + at, text))
    return spans


def split(doc: Document, splitter: SentenceSplitter) -> list[TextNode]:
    """Chunks of `doc` as nodes with `doc.text[start:end] == node.text`."""
    spans = _spans(doc, splitter)
    return [
        TextNode(
            id_=chunk_id(doc, i),
            text=text,
            start_char_idx=start,
            end_char_idx=start + len(text),
            metadata={
                "document": doc.name,
                "doc_sha256": doc.sha256,
                "chunk": i,
                "chunks": len(spans),
                "start": start,
                "end": start + len(text),
                **({"page": doc.page_at(start)} if doc.pages else {}),
            },
            excluded_embed_metadata_keys=_KEYS,
            excluded_llm_metadata_keys=_KEYS,
        )
        for i, (start, text) in enumerate(spans)
    ]
