"""`qa serve`: the HTTP API alone, under /v1, on uvicorn; and the same API for the web chat's server."""

from typing import TYPE_CHECKING

from qa import Settings, UserError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from llama_index.core.llms import LLM
    from starlette.routing import Mount

PREFIX = "/v1"


def check_bind(settings: Settings) -> None:
    """Beyond loopback, the API needs a key: refuse to start without one."""
    web = settings.web
    if not web.loopback and web.api_key is None:
        raise UserError(
            f"Refusing to serve the API on {web.host} without a key: set QA_WEB_API_KEY, or bind to 127.0.0.1."
        )


def mount(settings: Settings, llm: "LLM | None" = None) -> "Mount":
    """The API as a route to put in front of another app's (the web chat's): /v1/..."""
    from starlette.routing import Mount

    from api.app import create_app

    return Mount(PREFIX, app=create_app(settings, llm))


def asgi(settings: Settings, llm: "LLM | None" = None) -> "FastAPI":
    from fastapi import FastAPI

    return FastAPI(docs_url=None, redoc_url=None, openapi_url=None, routes=[mount(settings, llm)])


def serve(settings: Settings) -> None:
    """Serve until Ctrl-C. A missing index is reported now, not at the first question."""
    import uvicorn

    import qa

    check_bind(settings)
    qa.load(settings)
    web = settings.web
    print(f"OpenAI-compatible API on http://{web.host}:{web.port}{PREFIX} (models: GET {PREFIX}/models)", flush=True)
    uvicorn.run(asgi(settings), host=web.host, port=web.port, log_level="info", server_header=False)
