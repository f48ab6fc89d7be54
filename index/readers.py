"""Text out of each supported format. A file that cannot be read raises `Unreadable` with the reason."""

from pathlib import Path


class Unreadable(Exception):
    pass


def read_text(file: Path) -> tuple[str, list[int]]:
    """The document's text and, for paged formats, the character offset where each page starts."""
    suffix = file.suffix.lower()
    if suffix in (".txt", ".md"):
        return _plain(file.read_bytes()), []
    if suffix == ".pdf":
        return _pdf(file)
    if suffix in (".html", ".htm"):
        return _html(file.read_bytes()), []
    if suffix == ".docx":
        return _docx(file), []
    raise Unreadable("unsupported type")


def _plain(data: bytes) -> str:
    if b"\x00" in data:  # text never holds NUL bytes; an image or executable almost always does
        raise Unreadable("binary content")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None


def _pdf(file: Path) -> tuple[str, list[int]]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(file)
        if reader.is_encrypted:
            raise Unreadable("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, OSError) as e:
        raise Unreadable(f"not a readable PDF ({type(e).__name__})") from None
    text, starts = "", []
    for page in pages:
        starts.append(len(text))
        text += page.strip() + "\n\n"
    return text, starts


def _html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _docx(file: Path) -> str:
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(file))
    except (OpcError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise Unreadable(f"not a readable Word file ({type(e).__name__})") from None
    return "\n\n".join(p.text for p in document.paragraphs if p.text.strip())
