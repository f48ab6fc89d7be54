"""The Gradio web chat: streamed answers, a sources panel, uploads, and a named API for gradio_client."""

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import qa
from qa import Pipelines, Settings, UserError
from ui.render import CHECKING, CSS, check_html, refused_html, searching_html, sources_html

if TYPE_CHECKING:
    import gradio as gr
    from llama_index.core.llms import LLM

    from qa import AnswerStyle


EXAMPLES = [
    "What guarantees does Russia demand?",
    "What did Putin agree to after the call with Trump?",
    "How much of its territory has Ukraine lost?",
]
REWRITE_TITLE = "Searched for"


def _style(short: bool) -> "AnswerStyle":
    return "short" if short else "sentence"


def conversation(messages: list[dict]) -> list[tuple[str, str]]:
    """(question, answer) pairs of the chat so far (`qa.conversation`), leaving out the 'searched for' notes."""
    return qa.conversation(
        (m["role"], m["content"] if isinstance(m["content"], str) else "")
        for m in messages
        if not (m.get("metadata") or {}).get("title")
    )


class Chat:
    """The app's handlers, over one pipeline per collection (`qa.Pipelines`), all sharing the process's models."""

    def __init__(self, settings: Settings, llm: "LLM | None" = None) -> None:
        self.settings = settings
        self.pipelines = Pipelines(settings, llm)

    def respond(self, message: str, history: list[dict], collection: str, short: bool = False):
        """Streams (chat messages, sources panel): retrieved passages first, then the answer as it is written."""
        import gradio as gr

        past = conversation(history)
        history = [*history, {"role": "user", "content": message}]
        answer_at = len(history)
        history.append({"role": "assistant", "content": ""})
        draft = ""
        try:
            for event in self.pipelines.get(collection).stream(message, past, style=_style(short)):
                if isinstance(event, list):
                    yield history, searching_html(event)
                elif isinstance(event, str):
                    draft += event  # shown as being checked until the checked answer replaces it in place
                    history[answer_at]["content"] = draft + CHECKING
                    yield history, gr.skip()
                else:
                    if past:
                        note = {"role": "assistant", "content": event.query, "metadata": {"title": REWRITE_TITLE}}
                        history.insert(answer_at, note)
                        answer_at += 1
                    if event.error:
                        history[answer_at]["content"] = f"**Not answered:** {event.error}"
                        yield history, searching_html(event.passages, writing=False)
                    elif event.refused:
                        withdrawn = " *(A draft answer was withdrawn: it does not answer the question.)*" if event.refusal == "check" else ""
                        history[answer_at]["content"] = f"*Not in the documents.* {event.text}{withdrawn}"
                        yield history, check_html(event.check) + refused_html(event.passages)
                    else:
                        history[answer_at]["content"] = event.text
                        yield history, check_html(event.check) + sources_html(event.sources)
        except UserError as e:
            history[answer_at]["content"] = f"**Not done:** {e}"
            yield history, ""

    def ask(self, question: str, collection: str = "", short: bool = False) -> dict:
        """Answer one question; returns the answer, whether it was refused, and its cited sources.

        `short` answers with only the phrase that answers (a name, a number, a date).
        """
        return self.pipelines.get(collection or None).ask(question, style=_style(short)).to_json()

    def upload(self, files: list[str] | None, collection: str) -> tuple[str, "gr.Dropdown"]:
        """Index uploaded files into `collection`; unreadable ones are named with the reason."""
        import gradio as gr

        if not files:
            return "Choose files first: .txt, .md, .pdf, .html or .docx.", gr.skip()
        settings = self.settings.with_(store={"collection": collection})
        try:
            report = qa.add_files(files, settings=settings)
        except UserError as e:
            return f"**Not done:** {e}", gr.skip()
        self.pipelines.forget(collection)
        lines = [f"Added {report.added}, updated {report.updated}, unchanged {report.unchanged} "
                 f"({report.embedded} passages embedded) in **{collection}**."]  # fmt: skip
        lines += [f"Could not read **{os.path.basename(s.name)}**: {s.reason}." for s in report.skipped]
        return "\n\n".join(lines), gr.Dropdown(choices=qa.collections(self.settings), value=collection)


def build(settings: Settings, llm: "LLM | None" = None) -> "gr.Blocks":
    """The app over the store of `settings`. `llm` replaces the configured model (tests pass a fake)."""
    import gradio as gr

    chat = Chat(settings, llm)
    chat.pipelines.get()  # a missing index is reported now, not at the first question
    with gr.Blocks(title="Seed QA") as app:
        gr.Markdown("### Ask your documents\nAnswers cite the passages they come from; the sources panel highlights the supporting words.")
        with gr.Row():
            with gr.Column(scale=3):
                collection = gr.Dropdown(
                    choices=qa.collections(settings), value=settings.store.collection, label="Collection",
                    allow_custom_value=True, elem_id="collection",
                )  # fmt: skip
                bot = gr.Chatbot(label="Chat", height=460, elem_id="chat")
                box = gr.Textbox(placeholder="Ask a question…", show_label=False, elem_id="question", submit_btn=True)
                short = gr.Checkbox(
                    settings.answer.style == "short", label="Short answers (only the words that answer)", elem_id="short"
                )
                gr.Examples(EXAMPLES, inputs=[box], label="Try")
            with gr.Column(scale=2):
                gr.Markdown("#### Sources")
                panel = gr.HTML(elem_id="sources")
                with gr.Accordion("Add documents", open=False, elem_id="add-documents"):
                    files = gr.File(file_count="multiple", file_types=[".txt", ".md", ".pdf", ".html", ".htm", ".docx"], label="Files", elem_id="upload")
                    status = gr.Markdown(elem_id="upload-status")
        pending = gr.State("")
        box.submit(lambda m: ("", m), [box], [box, pending], api_visibility="private", queue=False).then(
            chat.respond, [pending, bot, collection, short], [bot, panel],
            api_visibility="private", concurrency_limit=1, concurrency_id="model",
        )  # fmt: skip
        files.upload(
            lambda f, c, progress=gr.Progress(track_tqdm=True): chat.upload(f, c),  # shows the embedding bar
            [files, collection], [status, collection],
            api_visibility="private", concurrency_limit=1, concurrency_id="model",
        )  # fmt: skip
        gr.api(chat.ask, api_name="ask", concurrency_limit=1, concurrency_id="model")
    return app


def serve(
    settings: Settings, block: bool = True, routes: "list | None" = None, on_start: "Callable[[], None] | None" = None
) -> "gr.Blocks":
    """Serve the chat; `routes` (Starlette routes, such as the HTTP API's mount) are served beside it.

    `on_start` runs once the settings are known to be servable, before the server starts (warm-up).
    """
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    web = settings.web
    auth = None
    if web.auth_user and web.auth_password:
        auth = (web.auth_user, web.auth_password.get_secret_value())
    if not web.loopback and auth is None:
        raise UserError(
            f"Refusing to serve on {web.host} without credentials: set QA_WEB_AUTH_USER and QA_WEB_AUTH_PASSWORD, "
            "or bind to 127.0.0.1."
        )
    app = build(settings)
    if on_start is not None:
        on_start()
    app.queue(default_concurrency_limit=1).launch(
        server_name=web.host, server_port=web.port, auth=auth, css=CSS, show_error=False,
        max_file_size=settings.store.max_file_bytes, prevent_thread_lock=not block,
        app_kwargs={"routes": list(routes)} if routes else None,
    )  # fmt: skip
    return app
