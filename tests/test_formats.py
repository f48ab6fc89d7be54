"""PDF, HTML and Word files are read; unreadable ones are named and skipped; PDF passages keep their page."""

import io

import docx
from pypdf import PdfReader, PdfWriter

import qa
from tests.pdfs import make_pdf


def test_every_format_is_indexed_and_pdf_pages_are_kept(settings, tmp_path, fake_llm):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(
        make_pdf(["Quarterly report of the harbour authority.", "The new pier opened on 3 May with 40 berths."])
    )
    (folder / "page.html").write_text(
        "<html><head><style>p{color:red}</style><script>var x=1;</script></head>"
        "<body><h1>Ferries</h1><p>The night ferry leaves at 22:40 from quay seven.</p></body></html>"
    )
    word = docx.Document()
    word.add_paragraph("Minutes of the council.")
    word.add_paragraph("The council approved a budget of 12 million for the lighthouse.")
    word.save(folder / "minutes.docx")

    report = qa.index(folder, settings=settings, progress=False)
    assert (report.documents, report.skipped) == (3, [])
    chunks = {c.document: c for c in qa.open_store(settings).chunks()}
    assert "var x" not in chunks["page.html"].text and "22:40" in chunks["page.html"].text
    assert "12 million" in chunks["minutes.docx"].text

    answer = qa.ask("When did the new pier open?", settings=settings, llm=fake_llm)
    assert not answer.refused
    assert answer.sources[0].document == "report.pdf" and answer.sources[0].page == 2


def test_unreadable_files_are_skipped_and_the_rest_indexed(settings, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Secret plans."]))))
    writer.encrypt("password")
    writer.write(folder / "locked.pdf")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (folder / "good.md").write_text("The archive opens at nine.")
    report = qa.index(folder, settings=settings, progress=False)
    reasons = {s.name: s.reason for s in report.skipped}
    assert report.documents == 1
    assert reasons["locked.pdf"] == "encrypted PDF"
    assert "PDF" in reasons["broken.pdf"] and "Word" in reasons["broken.docx"]
