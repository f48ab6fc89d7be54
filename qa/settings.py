"""The one settings object. Every field can be set by an `QA_<NAME>` environment variable."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "seedqa"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seedqa"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", frozen=True, extra="forbid")

    # Where documents are stored.
    store_dir: Path = Field(default_factory=lambda: _data_home() / "store")
    collection: str = "documents"
    max_file_bytes: int = 20_000_000

    # How documents are cut and searched. Chunks are measured in the embedding model's word
    # pieces; it truncates at 256, so a chunk may not be longer.
    chunk_size: int = Field(128, ge=16, le=256)
    chunk_overlap: int = Field(16, ge=0, le=128)
    top_k: int = Field(4, ge=1, le=20)
    # Below this cosine similarity of the best passage, the question is refused without asking the model.
    min_score: float = 0.2

    # The language model. "llamacpp" runs a GGUF file in this process.
    llm_mode: Literal["llamacpp"] = "llamacpp"
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


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides (None means "not given") on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
