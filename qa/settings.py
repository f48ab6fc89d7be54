"""The one settings object. Every field can be set by an `QA_<NAME>` environment variable."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AnswerStyle = Literal["sentence", "short"]  # see qa.prompt.STYLES


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "seedqa"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seedqa"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", frozen=True, extra="forbid")

    # Where documents are stored: a folder (Chroma embedded in this process), or a Chroma server.
    store_dir: Path = Field(default_factory=lambda: _data_home() / "store")
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000, served by `chroma run`
    collection: str = "documents"
    max_file_bytes: int = 20_000_000

    # How documents are cut and searched. Chunks are measured in the embedding model's word
    # pieces; it truncates at 256, so a chunk may not be longer.
    chunk_size: int = Field(128, ge=16, le=256)
    chunk_overlap: int = Field(16, ge=0, le=128)
    top_k: int = Field(4, ge=1, le=20)
    # Fuse embedding search with BM25 keyword search (reciprocal rank fusion); False: embeddings only.
    hybrid: bool = True
    # Below this cosine similarity of the best passage, the question is refused without asking the model.
    min_score: float = 0.2
    # How the model answers: "sentence" (one to three sentences, the default) or "short" (only the
    # phrase that answers: a name, a number, a date). Either way every claim is checked and cited.
    answer_style: AnswerStyle = "sentence"

    # The language model: "llamacpp" runs a GGUF file in this process; "openai" talks to any
    # OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp's server). Setting
    # llm_base_url alone selects "openai".
    llm_mode: Literal["llamacpp", "openai"] = "llamacpp"
    llm_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1
    llm_model: str = "local"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(120.0, gt=0)  # seconds to wait for the server's next words
    # Another GGUF file instead of the bundled, hash-checked model (used without a hash pin).
    llm_model_path: Path | None = None
    model_cache_dir: Path = Field(default_factory=lambda: _cache_home() / "models")
    context_window: int = 2048
    max_new_tokens: int = 256
    temperature: float = 0.0

    threads: int = Field(default_factory=lambda: max(1, min(os.cpu_count() or 2, 8)))

    # The web chat.
    host: str = "127.0.0.1"
    port: int = 7860
    # Required when `host` is not a loopback address.
    auth_user: str | None = None
    auth_password: SecretStr | None = None


    @model_validator(mode="after")
    def _server_when_url(self) -> "Settings":
        if self.llm_base_url and "llm_mode" not in self.model_fields_set:
            object.__setattr__(self, "llm_mode", "openai")
        if self.llm_mode == "openai" and not self.llm_base_url:
            raise ValueError("llm_mode 'openai' needs QA_LLM_BASE_URL (the server's /v1 address)")
        return self


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides (None means "not given") on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
