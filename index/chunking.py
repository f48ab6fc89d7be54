"""Split documents into passages that fit the embedding model, keeping exact character offsets."""

import hashlib
from collections.abc import Callable

from llama_index.core import Document as LlamaDocument
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode

from index.documents import Document
from index.embedding import MAX_TOKENS


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


def split(doc: Document, splitter: SentenceSplitter) -> list[TextNode]:
    """Chunks of `doc` as nodes with `doc.text[start:end] == node.text`."""
    parsed = splitter.get_nodes_from_documents([LlamaDocument(text=doc.text, id_=doc.name)])
    nodes = []
    cursor = 0
    for i, node in enumerate(parsed):
        text = node.get_content()
        start = doc.text.find(text, cursor)
        if start < 0:
            start = doc.text.find(text)
        if start < 0:
            raise RuntimeError(f"chunk {i} of {doc.name} is not a span of the document")
        cursor = start + 1
        nodes.append(
            TextNode(
                id_=chunk_id(doc, i),
                text=text,
                start_char_idx=start,
                end_char_idx=start + len(text),
                metadata={
                    "document": doc.name,
                    "doc_sha256": doc.sha256,
                    "chunk": i,
                    "chunks": len(parsed),
                    "start": start,
                    "end": start + len(text),
                },
                excluded_embed_metadata_keys=["document", "doc_sha256", "chunk", "chunks", "start", "end"],
                excluded_llm_metadata_keys=["document", "doc_sha256", "chunk", "chunks", "start", "end"],
            )
        )
    return nodes
