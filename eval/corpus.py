"""Corpora held in memory (a SQuAD file's paragraphs, generated benchmark documents) written out to be indexed."""

from pathlib import Path


def write_documents(folder: Path, docs: dict[str, str]) -> Path:
    """Write `docs` (file name -> text) into `folder`, remove the .txt files not among them, return `folder`.

    Only files whose content differs are written, so writing the same corpus again changes nothing
    on disk and re-indexing it embeds nothing. Texts are written as UTF-8 bytes, newlines untranslated,
    so character offsets into a text (a reference's support span) hold in the file too.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        path, data = folder / name, text.encode("utf-8")
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    for stale in folder.glob("*.txt"):
        if stale.name not in docs:
            stale.unlink()
    return folder
