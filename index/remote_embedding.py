"""Embeddings from an OpenAI-compatible server (`POST {base_url}/embeddings`): infinity, text-embeddings-inference,
vLLM, Ollama, llama.cpp's server, or another `qa serve`.

Texts are sent in batches of `batch_size`, `concurrency` batches at a time; connection errors, 429 and
5xx answers are retried with exponential back-off. A server that stays down, answers something that is
not the API's JSON, or returns vectors of the wrong size raises `EmbedServerError`, one line.

Chunks are still measured with the bundled model's tokenizer (no weights, no torch): the same folder
gives the same chunks whichever server embeds them, so a store built through a server and one built
in the process hold the same ids, and an interrupted ingest resumes either way.
"""

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from index.errors import EmbedServerError

TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF = 8.0  # seconds between two tries, at most


class RemoteEmbedding(BaseEmbedding):
    base_url: str
    api_key: str | None = None
    timeout: float = 60.0
    batch_size: int = 32
    concurrency: int = 4
    retries: int = 4  # tries after the first, on a transient error

    _client: Any = PrivateAttr(default=None)
    _dimension: int | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **data: Any) -> None:
        data["base_url"] = data["base_url"].rstrip("/")
        # llama-index hands `_get_text_embeddings` lists of `embed_batch_size`: let them be a whole round of
        # concurrent requests, which this class splits itself.
        data.setdefault("embed_batch_size", min(2048, data.get("batch_size", 32) * data.get("concurrency", 4)))
        super().__init__(**data)

    @classmethod
    def class_name(cls) -> str:
        return "RemoteEmbedding"

    @property
    def inflight(self) -> int:
        """Texts embedded by one round of concurrent requests: the store writes that many chunks per step."""
        return self.embed_batch_size  # batch_size x concurrency, at most 2048

    @property
    def dimension(self) -> int | None:
        """Size of the vectors the server returned so far (None before the first answer)."""
        return self._dimension

    def http(self):
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                limits = httpx.Limits(max_connections=self.concurrency + 1)
                self._client = httpx.Client(timeout=self.timeout, headers=headers, limits=limits)
            return self._client

    # -- llama-index's interface ------------------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._post([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._post([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) <= 1 or self.concurrency == 1:
            return [v for b in batches for v in self._post(b)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches)), thread_name_prefix="embed") as pool:
            return [v for got in pool.map(self._post, batches) for v in got]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    # -- the request ------------------------------------------------------------------------------------

    def _post(self, texts: list[str]) -> list[list[float]]:
        body = self._send({"model": self.model_name, "input": texts})
        return self._vectors(body, len(texts))

    def _send(self, payload: dict, sleep: Callable[[float], None] = time.sleep) -> Any:
        import httpx

        url = f"{self.base_url}/embeddings"
        why = ""
        for attempt in range(self.retries + 1):
            if attempt:
                sleep(min(MAX_BACKOFF, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2))
            try:
                r = self.http().post(url, json=payload)
            except httpx.TransportError as e:  # refused, reset, timed out
                why = f"{type(e).__name__}"
                continue
            if r.status_code in TRANSIENT_STATUS:
                why = f"HTTP {r.status_code}"
                continue
            if r.status_code >= 400:
                raise EmbedServerError(
                    f"The embeddings server at {url} refused the request (HTTP {r.status_code}: "
                    f"{' '.join(r.text.split())[:160]}). Check QA_EMBED_MODEL ({self.model_name!r}) and QA_EMBED_API_KEY."
                )
            try:
                return r.json()
            except ValueError:
                raise self._not_the_api(url, f"not JSON: {' '.join(r.text.split())[:80]!r}") from None
        raise EmbedServerError(
            f"The embeddings server at {url} did not answer ({why}, tried {self.retries + 1}x). Start it, "
            "or unset QA_EMBED_BASE_URL to embed in this process."
        )

    def _vectors(self, body: Any, n: int) -> list[list[float]]:
        url = f"{self.base_url}/embeddings"
        try:
            rows = sorted(body["data"], key=lambda d: d.get("index", 0))
            vectors = [[float(x) for x in d["embedding"]] for d in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._not_the_api(url, "no data[].embedding lists of numbers") from None
        if len(vectors) != n:
            raise self._not_the_api(url, f"{len(vectors)} vectors for {n} texts")
        sizes = {len(v) for v in vectors}
        with self._lock:
            if self._dimension is not None:
                sizes.add(self._dimension)
            if len(sizes) != 1 or 0 in sizes:
                raise EmbedServerError(
                    f"The embeddings server at {url} returned vectors of sizes {sorted(sizes)}, not all of one size: "
                    f"check that QA_EMBED_MODEL ({self.model_name!r}) names one embedding model."
                )
            self._dimension = sizes.pop()
        return vectors

    def _not_the_api(self, url: str, what: str) -> EmbedServerError:
        return EmbedServerError(
            f"The server at {url} does not answer as an OpenAI-compatible embeddings API ({what}). "
            "QA_EMBED_BASE_URL should end where /embeddings is, often in /v1."
        )


def bundled_token_counter() -> Callable[[str], list[int]]:
    """Word pieces of the bundled model's tokenizer (special tokens included), without loading its weights."""
    from tokenizers import Tokenizer

    from index.minilm import model_folder

    tokenizer = Tokenizer.from_file(str(model_folder() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: tokenizer.encode(text, add_special_tokens=True).ids
