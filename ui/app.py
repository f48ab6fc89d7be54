"""The Gradio web chat: streamed answers, the sources panel, and a named API for gradio_client."""

import os
from typing import TYPE_CHECKING

import qa
from index import StoreError
from qa.settings import Settings
from ui.render import CSS, refused_html, searching_html, sources_html

if TYPE_CHECKING:
    import gradio as gr
    from llama_index.core.llms import LLM

EXAMPLES = [
    "What guarantees does Russia demand?",
    "What did Putin agree to after the call with Trump?",
    "How much of its territory has Ukraine lost?",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def build(settings: Settings, llm: "LLM | None" = None) -> "gr.Blocks":
    """The app over `settings.collection`. `llm` replaces the configured model (tests pass a fake)."""
    import gradio as gr

    pipeline = qa.pipeline(settings, llm)

    def respond(message: str, history: list[dict]):
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        try:
            for event in pipeline.stream(message):
                if isinstance(event, list):
                    yield history, searching_html(event)
                elif isinstance(event, str):
                    history[-1]["content"] += event
                    yield history, gr.skip()
                elif event.refused:
                    history[-1]["content"] = f"*{event.text}*"
                    yield history, refused_html(event.passages)
                else:
                    history[-1]["content"] = event.text
                    yield history, sources_html(event.sources)
        except StoreError as e:
            history[-1]["content"] = f"⚠️ {e}"
            yield history, ""

    def ask(question: str) -> dict:
        """Answer a question; returns the answer, whether it was refused, and its cited sources."""
        return pipeline.ask(question).to_json()

    with gr.Blocks(title="Seed QA") as app:
        gr.Markdown(f"### Ask your documents\nCollection **{settings.collection}** · answers cite the passages they come from.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=480, elem_id="chat")
                box = gr.Textbox(placeholder="Ask a question…", show_label=False, elem_id="question", submit_btn=True)
                gr.Examples(EXAMPLES, inputs=[box], label="Try")
            with gr.Column(scale=2):
                gr.Markdown("#### Sources")
                panel = gr.HTML(elem_id="sources")
        pending = gr.State("")
        box.submit(lambda m: ("", m), [box], [box, pending], api_visibility="private").then(
            respond, [pending, chat], [chat, panel], api_visibility="private"
        )
        gr.api(ask, api_name="ask")
    return app


def serve(settings: Settings) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    auth = None
    if settings.auth_user and settings.auth_password:
        auth = (settings.auth_user, settings.auth_password.get_secret_value())
    if settings.host not in LOCAL_HOSTS and auth is None:
        raise StoreError(
            f"Refusing to serve on {settings.host} without credentials: set QA_AUTH_USER and QA_AUTH_PASSWORD, "
            "or bind to 127.0.0.1."
        )
    app = build(settings)
    app.queue(default_concurrency_limit=1).launch(
        server_name=settings.host, server_port=settings.port, auth=auth, css=CSS, show_error=False
    )
