"""Document store: read a folder, chunk it, embed it and keep a Chroma collection in step with it.

This layer knows nothing of questions or language models; `qa` builds on it.
"""

from index.errors import StoreError
from index.source import Source
from index.documents import IndexReport
from index.store import Store

__all__ = ["IndexReport", "Source", "Store", "StoreError"]
