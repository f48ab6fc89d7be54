"""OpenTelemetry spans of each answer's steps, only when the user asks for them.

Nothing is exported unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, and then
only with the `otel` extra installed. Spans are made after the answer from the times the API
already measured (the steps run in a worker thread, in `qa`, which knows nothing of tracing), on a
private tracer provider, so other libraries' tracing (chromadb has some) is left alone.
"""

import atexit
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
STEPS = ("condense", "retrieve", "generate", "check")  # in order; each a child span of the request's


class Telemetry:
    def __init__(self, exporter: "SpanExporter", batch: bool = True) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SimpleSpanProcessor,
        )

        self.provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "seedqa")}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("seedqa.api")

    def record(
        self, name: str, started_ns: int, timings: dict[str, float], attributes: dict[str, Any], traceparent: str | None = None
    ) -> None:
        """A span `name` starting at `started_ns` (wall clock) lasting timings["total"], a child per step.

        `traceparent`: the caller's W3C trace context (the request's header); the span is then its child,
        in the caller's trace."""
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent}) if traceparent else None
        end = started_ns + int(timings.get("total", 0.0) * 1e9)
        root = self.tracer.start_span(name, context=parent, start_time=started_ns, attributes=_clean(attributes))
        ctx = trace.set_span_in_context(root)
        # Steps are back to back, ending where the request's answer was ready.
        at = end - int(sum(timings.get(s, 0.0) for s in STEPS) * 1e9)
        for step in STEPS:
            if step in timings:
                length = int(timings[step] * 1e9)
                span = self.tracer.start_span(f"qa.{step}", context=ctx, start_time=at)
                if step == "generate" and "first_token" in timings:
                    span.set_attribute("qa.first_token_s", timings["first_token"])
                span.end(end_time=at + length)
                at += length
        root.end(end_time=end)

    def shutdown(self) -> None:
        self.provider.shutdown()


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if isinstance(v, str | bool | int | float)}


def from_env() -> Telemetry | None:
    """The exporter the OTEL_ variables describe, or None when none is set (or the extra is missing)."""
    if not any(os.environ.get(name) for name in ENV):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.trace import TracerProvider  # noqa: F401
    except ImportError:
        print(
            "warning: OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry extra is missing: "
            "pip install seedqa[otel] (no spans are exported)",
            file=sys.stderr,
        )
        return None
    telemetry = Telemetry(OTLPSpanExporter())
    atexit.register(telemetry.shutdown)  # sends the spans still batched
    return telemetry


def now_ns() -> int:
    return time.time_ns()
