"""The one settings object, in groups. Every field can be set by a `QA_<GROUP>_<FIELD>` environment variable.

    QA_STORE_COLLECTION=papers QA_LLM_BASE_URL=http://127.0.0.1:11434/v1 qa ask "..."

Each group is a frozen model, so a group is also the key of whatever is built from it (the open
store, the loaded language model): a new field is part of the key without anyone listing it.
"""

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AnswerStyle = Literal["sentence", "short"]  # see qa.prompt.STYLES
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # bound here, a server needs no credentials


def data_home() -> Path:
    """Where stores and eval runs live by default (XDG_DATA_HOME respected)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "seedqa"


def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seedqa"


def _threads() -> int:
    return max(1, min(os.cpu_count() or 2, 8))


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreSettings(_Group):
    """Where documents are kept and how they are cut and searched: what shapes an open `Store`."""

    dir: Path = Field(default_factory=lambda: data_home() / "store")  # Chroma embedded in this process
    chroma_url: str | None = None  # a Chroma server instead, e.g. http://127.0.0.1:8000 (`chroma run`)
    collection: str = "documents"
    max_file_bytes: int = 20_000_000
    # Chunks are measured in the embedding model's word pieces; it truncates at 256.
    chunk_size: int = Field(128, ge=16, le=256)
    chunk_overlap: int = Field(16, ge=0, le=128)
    # Fuse embedding search with BM25 keyword search (max-normalised scores, averaged); False: embeddings only.
    hybrid: bool = True


class EmbedSettings(_Group):
    """The embedding model: the bundled one in this process (which runtime runs it, on how many threads),
    or an OpenAI-compatible embeddings server (`base_url` set: infinity, text-embeddings-inference, vLLM,
    Ollama, llama.cpp's server)."""

    threads: int = Field(default_factory=_threads, ge=1)  # threads of the model in this process
    # "onnx-int8": ONNX Runtime with int8 weights, about twice as fast as float32, vectors at a cosine
    # of 0.98 to 1 with torch's, retrieval as good (docs/performance.md); "onnx": float32, the same
    # vectors as torch; neither imports torch. "torch": sentence-transformers. The ONNX files are
    # exported once into `cache_dir` (`qa model` does it ahead, or the first load).
    backend: Literal["onnx-int8", "onnx", "torch"] = "onnx-int8"
    cache_dir: Path = Field(default_factory=lambda: cache_home() / "embed")
    base_url: str | None = None  # e.g. http://127.0.0.1:7997 (infinity) or http://127.0.0.1:11434/v1: POST {base_url}/embeddings
    model: str = "all-MiniLM-L6-v2"  # the model's name as the server knows it
    api_key: SecretStr | None = None
    timeout: float = Field(60.0, gt=0)  # seconds for one request
    batch_size: int = Field(32, ge=1, le=2048)  # texts per request
    concurrency: int = Field(4, ge=1, le=64)  # requests in flight at once
    retries: int = Field(4, ge=0, le=10)  # tries again on connection errors, 429 and 5xx, with exponential back-off

    @model_validator(mode="after")
    def _url(self) -> "EmbedSettings":
        if self.base_url == "":  # QA_EMBED_BASE_URL= (set empty): the model in the process
            object.__setattr__(self, "base_url", None)
        if self.base_url is not None and not re.match(r"https?://[^/\s]+", self.base_url):
            raise ValueError(f"QA_EMBED_BASE_URL must look like http://HOST:PORT/v1, not {self.base_url!r}")
        return self


class AnswerSettings(_Group):
    """How a question becomes an answer: how many passages, when to refuse, in what style."""

    top_k: int = Field(4, ge=1, le=20)
    # Below this cosine similarity of the best passage, the question is refused without asking the model.
    min_score: float = 0.2
    # "sentence": one to three sentences; "short": only the phrase that answers. Either way every
    # claim is checked and cited.
    style: AnswerStyle = "sentence"
    # About this many tokens of the passages' sentences that bear on the question go into the prompt
    # (qa.excerpts); reading the prompt is most of the wait for the first word. 0: whole passages.
    context_tokens: int = Field(200, ge=0)
    # After citations, each answer is scored for whether it answers the question (qa.answerhood) and
    # withdrawn when it does not. `check_threshold` replaces the fitted operating point: higher refuses more.
    check: bool = True
    check_threshold: float | None = Field(None, ge=0.0, le=1.0)


class LLMSettings(_Group):
    """The language model: "llamacpp" runs a GGUF file in this process; "openai" talks to any
    OpenAI-compatible server (Ollama, vLLM, llama.cpp's server). Setting `base_url` alone selects "openai"."""

    mode: Literal["llamacpp", "openai"] = "llamacpp"
    base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1
    model: str = "local"
    api_key: SecretStr | None = None
    timeout: float = Field(120.0, gt=0)  # seconds to wait for the server's next words
    model_path: Path | None = None  # another GGUF file instead of the bundled, hash-checked one
    cache_dir: Path = Field(default_factory=lambda: cache_home() / "models")
    context_window: int = 2048
    max_new_tokens: int = 256
    temperature: float = 0.0
    threads: int = Field(default_factory=_threads, ge=1)

    @model_validator(mode="after")
    def _server_when_url(self) -> "LLMSettings":
        if self.base_url and "mode" not in self.model_fields_set:
            object.__setattr__(self, "mode", "openai")
        if self.mode == "openai" and not self.base_url:
            raise ValueError("mode 'openai' needs QA_LLM_BASE_URL (the server's /v1 address)")
        return self


class WebSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    # Required when `host` is not a loopback address: the web chat's login, and the HTTP API's bearer key.
    auth_user: str | None = None
    auth_password: SecretStr | None = None
    api_key: SecretStr | None = None

    @property
    def loopback(self) -> bool:
        return self.host in LOCAL_HOSTS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QA_", env_nested_delimiter="_", env_nested_max_split=1, frozen=True, extra="forbid"
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    def with_(self, **changes: dict) -> "Settings":
        """A copy with some fields of some groups changed: `s.with_(store={"collection": "x"})`."""
        groups = {}
        for name, fields in changes.items():
            group = getattr(self, name)  # validated again (model_copy would not), keeping what was set before
            groups[name] = type(group).model_validate({**group.model_dump(exclude_unset=True), **fields})
        return self.model_copy(update=groups)


# Names of the flat layout before the groups; set, they would be silently ignored.
RENAMED = {
    "QA_CHROMA_URL": "QA_STORE_CHROMA_URL", "QA_COLLECTION": "QA_STORE_COLLECTION",
    "QA_MAX_FILE_BYTES": "QA_STORE_MAX_FILE_BYTES", "QA_CHUNK_SIZE": "QA_STORE_CHUNK_SIZE",
    "QA_CHUNK_OVERLAP": "QA_STORE_CHUNK_OVERLAP", "QA_HYBRID": "QA_STORE_HYBRID", "QA_TOP_K": "QA_ANSWER_TOP_K",
    "QA_MIN_SCORE": "QA_ANSWER_MIN_SCORE", "QA_MODEL_CACHE_DIR": "QA_LLM_CACHE_DIR",
    "QA_CONTEXT_WINDOW": "QA_LLM_CONTEXT_WINDOW", "QA_MAX_NEW_TOKENS": "QA_LLM_MAX_NEW_TOKENS",
    "QA_TEMPERATURE": "QA_LLM_TEMPERATURE", "QA_THREADS": "QA_LLM_THREADS and QA_EMBED_THREADS",
    "QA_HOST": "QA_WEB_HOST", "QA_PORT": "QA_WEB_PORT", "QA_AUTH_USER": "QA_WEB_AUTH_USER",
    "QA_AUTH_PASSWORD": "QA_WEB_AUTH_PASSWORD",
}  # fmt: skip


def get_settings(**groups: dict) -> Settings:
    """Settings from the environment, with explicit values per group on top (None values mean "not given").

        get_settings(store={"collection": "papers"}, answer={"style": "short"})
    """
    from qa.errors import UserError

    old = [f"{name} is now {RENAMED[name]}" for name in RENAMED if name in os.environ]
    if old:
        raise UserError("renamed setting: " + "; ".join(old))
    base = Settings()
    given = {g: {k: v for k, v in fields.items() if v is not None} for g, fields in groups.items()}
    return base.with_(**given)
