"""The Chroma client: embedded in this process (a folder), or a Chroma server (`chroma run`)."""

import shlex
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from index.errors import NoStore, StoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


def connect(store_dir: Path, url: str | None = None, create: bool = False) -> "ClientAPI":
    """A client for the store; telemetry off either way.

    Embedded, a missing store is an error unless `create`; a server that does not answer is an
    error that says how to start it.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise StoreError(f"QA_STORE_CHROMA_URL must look like http://HOST:PORT, not {url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings
            )
            client.heartbeat()
        except Exception as e:
            raise StoreError(
                f"Cannot reach the Chroma server at {url} ({type(e).__name__}). Start one with "
                f"`chroma run --path DIR --host {parsed.hostname} --port {port}`, or unset QA_STORE_CHROMA_URL "
                "to use the embedded store."
            ) from None
        return client
    store_dir = Path(store_dir)
    if not create and not (store_dir / "chroma.sqlite3").exists():
        raise NoStore(f"No index at {store_dir}. Build it first: qa index PATH --store {store_dir}")
    store_dir.mkdir(parents=True, exist_ok=True)
    try:
        client = chromadb.PersistentClient(str(store_dir), settings=settings)
        client.list_collections()
    except Exception as e:  # chromadb's errors differ by version and by what broke (sqlite, segments)
        raise damaged(store_dir, e) from None
    return client


def damaged(store_dir: Path, error: Exception) -> StoreError:
    """The store exists but cannot be read: say so, and how to start again without losing the old one."""
    where = shlex.quote(str(store_dir))
    return StoreError(
        f"The store at {store_dir} cannot be read ({type(error).__name__}: {' '.join(str(error).split())[:120]}): it is damaged "
        f"or half-written. Move it aside and index again: mv {where} {where}.broken && qa index PATH --store {where}"
    )


def list_collections(client: "ClientAPI") -> list[str]:
    return sorted(c.name for c in client.list_collections())


def drop_collection(client: "ClientAPI", collection: str) -> bool:
    """Delete a collection if it exists; True when something was deleted."""
    if collection not in list_collections(client):
        return False
    client.delete_collection(collection)
    return True
