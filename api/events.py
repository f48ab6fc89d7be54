"""Run a pipeline's stream in a worker thread and hand its events to the event loop as they come.

The pipeline is synchronous and slow (seconds per answer, and the model answers one question at
a time), so the server's event loop must never run it: each answer gets one thread, which
iterates the stream from start to end (llama.cpp and the model lock stay on that thread), and
stops after the current event when the client goes away, so a queued question does not wait for
an answer nobody reads.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from qa.service import Event, Pipeline

_END = object()
T = TypeVar("T")


async def ticking(items: AsyncIterator[T], every: float) -> AsyncIterator[T | None]:
    """`items` as they come, and None each time `every` seconds have passed since the last None, whether
    items came or not (an MCP server's progress: a client restarts its timeout at each report)."""
    loop = asyncio.get_running_loop()
    due = loop.time() + every
    pending = asyncio.ensure_future(anext(items))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=max(due - loop.time(), 0))
            if loop.time() >= due:
                due = loop.time() + every
                yield None
            if not done:
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.ensure_future(anext(items))
    finally:
        pending.cancel()


def mark(marks: dict[str, float], at: float, event: "Event") -> None:
    """Note when each kind of event arrived: the passages, the first and last word, the answer
    (what `api.shapes.step_timings` reads)."""
    if isinstance(event, list):
        marks["sources"] = at
    elif isinstance(event, str):
        marks.setdefault("first", at)
        marks["last"] = at
    else:
        marks["answer"] = at


async def stream(
    pipeline: "Pipeline", question: str, history: Sequence[tuple[str, str]] = ()
) -> AsyncIterator[tuple[float, "Event"]]:
    """(perf_counter time, event) for each event of `pipeline.stream`; its exceptions are raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server is shutting down
            stop.set()

    def work() -> None:
        events = pipeline.stream(question, history)
        try:
            for event in events:
                put((time.perf_counter(), event))
                if stop.is_set():
                    break
        except BaseException as e:  # noqa: BLE001 - handed to the request, which maps it to a response
            put(e)
        finally:
            events.close()  # on this thread, releasing the model lock if generation was cut short
            put(_END)

    threading.Thread(target=work, name="qa-answer", daemon=True).start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
