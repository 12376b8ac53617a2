"""``tito serve`` on a real server stack: uvicorn, a small Starlette app, Prometheus metrics
from prometheus-client, dynamic batching. The optional ``serve`` extra:
``pip install 'tinytorch-mlops[serve]'``.

    server = ASGIModelServer.from_registry("cifar-cnn", "production", port=8000).start()
    # ... POST http://127.0.0.1:8000/predict  {"inputs": [[[[...]]]]}
    server.shutdown()

The endpoints, the validation and the monitoring are :class:`~.service.ModelService`'s —
the same code as the standard-library :class:`~.server.ModelServer` of the lesson. What
this module adds is the transport a production user expects:

* **one event loop** (uvicorn, HTTP/1.1 via h11) instead of a thread per connection: a
  thousand idle connections cost a thousand sockets, not a thousand threads;
* **caps**: ``max_connections`` (uvicorn's ``limit_concurrency``: beyond it a request is
  answered 503 at once, never left hanging), ``max_queue`` requests waiting for the model
  (503 beyond), ``body_memory`` bytes of request bodies held at once (a request waits for
  room, 503 after ``body_timeout``); the open-file soft limit raised to the hard limit;
* **deadlines**: ``header_timeout`` seconds for a request's headers, counted from the
  connection (or from the first byte of a keep-alive request) — a client trickling one byte
  every few seconds is disconnected; ``body_timeout`` for its body (408);
  ``idle_timeout`` between keep-alive requests; ``max_header_bytes`` of headers (431);
* **the body streamed and stopped at** ``max_body_bytes`` (413, whatever Content-Length
  says — and at once when it announces more); bodies over 256 KiB are decoded on one
  parsing thread, so at most one big decode is in memory at a time;
* **4xx for every client error** — 415 for a Content-Type that is not JSON, 400 for
  malformed or too deeply nested JSON and for a body cut short (the client half-closes:
  answered at once), 422 for bad values — counted in ``/metrics`` under their own reason,
  never as ``internal`` (that reason is kept for the server's own 500s);
* **dynamic batching** (:class:`~.batching.DynamicBatcher`): requests arriving within
  ``batch_wait_ms`` share one forward pass of up to ``max_batch`` samples, run on the
  model's own thread while the event loop keeps reading requests.

``/metrics`` keeps the names of the lesson's server (``tinytorch_requests_total``,
``tinytorch_request_errors_total``, ``tinytorch_request_latency_seconds``...) and adds
``tinytorch_batch_size`` (samples per forward pass), ``tinytorch_forward_passes_total``,
``tinytorch_queued_requests``, ``tinytorch_open_connections`` and
``tinytorch_connections_closed_total{reason}`` (header deadline, idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
from collections import Counter as _Tally
from typing import TYPE_CHECKING, Any

from .batching import DynamicBatcher, Overloaded
from .metrics import LATENCY_BUCKETS
from .monitoring import Monitor
from .predictor import Predictor
from .server import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY, ENDPOINTS
from .service import ModelService, dump_json, version_settings
from .validation import RequestError, check_content_type
from .workers import ProcessPredictor

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

SERVE_EXTRA = "pip install 'tinytorch-mlops[serve]'"

try:
    import uvicorn
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.routing import Route
    from uvicorn.protocols.http.h11_impl import H11Protocol
except ImportError as _err:  # one clear line for the user; tito serve prints it
    raise ImportError(f"serving with uvicorn needs the serve extra ({_err.name} is missing): "
                      f"{SERVE_EXTRA}") from _err

__all__ = ["ASGIModelServer", "PrometheusMetrics", "raise_open_file_limit", "SERVE_EXTRA"]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
INLINE_PARSE_BYTES = 256 * 1024   # bodies above this are decoded on the parsing thread
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_LINGER_SECONDS = 2.0             # how long a refused body is read and discarded


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise this process's soft limit on open files to the hard limit (each connection is a
    file; the usual soft limit is 1,024). Returns the (soft, hard) limits now in force, or
    None where the platform has no such limit."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        for value in (target, 1 << 16):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(value, target), hard))
                break
            except (ValueError, OSError):
                continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class PrometheusMetrics:
    """The server's metrics in a prometheus-client registry of their own (several servers
    can live in one process), with the methods :class:`~.service.ModelService` calls on the
    lesson's :class:`~.metrics.ServerMetrics`."""

    def __init__(self, buckets: tuple = LATENCY_BUCKETS) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("tinytorch_requests", "HTTP requests handled, by endpoint and "
                                "status code.", ["endpoint", "status"], registry=r)
        self.errors = Counter("tinytorch_request_errors", "Requests answered with an error, by "
                              "endpoint and reason (internal: the server failed; any other "
                              "reason: the client's request was refused).",
                              ["endpoint", "reason"], registry=r)
        self.latency = Histogram("tinytorch_request_latency_seconds", "Time to handle a request "
                                 "(read, parse, validate, wait for and run the model, "
                                 "serialise), in seconds.", ["endpoint"], buckets=buckets,
                                 registry=r)
        self.predictions = Counter("tinytorch_predictions", "Predicted class of every served "
                                   "sample.", ["class"], registry=r)
        self.samples = Counter("tinytorch_predicted_samples", "Samples predicted (a request "
                               "may hold a batch).", registry=r)
        self.batch_size = Histogram("tinytorch_batch_size", "Samples per forward pass (dynamic "
                                    "batching).", buckets=BATCH_BUCKETS, registry=r)
        self.batch_requests = Histogram("tinytorch_batch_requests", "Requests sharing one "
                                        "forward pass.", buckets=BATCH_BUCKETS, registry=r)
        self.forward = Counter("tinytorch_forward_passes", "Forward passes run.", registry=r)
        self.closed = Counter("tinytorch_connections_closed", "Connections the server closed "
                              "on a deadline, by reason.", ["reason"], registry=r)
        self.queued = Gauge("tinytorch_queued_requests", "Requests waiting for the model.",
                            registry=r)
        self.connections = Gauge("tinytorch_open_connections", "Open client connections.",
                                 registry=r)
        self._gauges: dict = {}
        self._info: Gauge | None = None
        self._lock = threading.Lock()

    def observe_request(self, endpoint: str, status: int, seconds: float,
                        error: str | None = None) -> None:
        """Count one handled request and its latency (and its error reason if it failed)."""
        self.requests.labels(endpoint, str(int(status))).inc()
        if error is not None:
            self.errors.labels(endpoint, error).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_predictions(self, classes: list) -> None:
        """Count predicted classes (labels as they are reported, e.g. names)."""
        for label, n in _Tally(classes).items():
            self.predictions.labels(str(label)).inc(n)
        self.samples.inc(len(classes))

    def observe_batch(self, samples: int, requests: int, seconds: float) -> None:
        """One forward pass of ``samples`` samples from ``requests`` requests."""
        self.forward.inc()
        self.batch_size.observe(samples)
        self.batch_requests.observe(requests)

    def set_gauge(self, name: str, help: str, labels: tuple, value: float) -> None:
        """Set a gauge sample (``labels``: a tuple of (label, value) pairs)."""
        names = tuple(k for k, _ in labels)
        with self._lock:
            gauge = self._gauges.get(name)
            if gauge is None:
                gauge = self._gauges[name] = Gauge(name, help, list(names),
                                                   registry=self.registry)
        (gauge.labels(*[v for _, v in labels]) if names else gauge).set(value)

    def set_info(self, info: dict) -> None:
        """``tinytorch_model_info{name=...,version=...} 1``."""
        if not info or self._info is not None:
            return
        keys = sorted(info)
        self._info = Gauge("tinytorch_model_info", "The model being served (value is always 1).",
                           keys, registry=self.registry)
        self._info.labels(*[str(info[k]) for k in keys]).set(1)

    def render(self, info: dict | None = None) -> str:
        """The ``/metrics`` page (Prometheus text format 0.0.4)."""
        if info:
            self.set_info(info)
        return generate_latest(self.registry).decode()


def _protocol_class(owner: "ASGIModelServer") -> type:
    """uvicorn's h11 protocol, plus what it lacks: a deadline for request headers, a JSON
    (and counted) answer to malformed or cut-short requests, an answer to a request whose
    client half-closed after sending it, and a lingering close after refusing a body."""

    class _Transport:
        """The connection's transport, closed with a linger when a request body is still
        arriving: send the answer and a FIN, read and discard what the client is still
        sending for a moment, then close — closing with unread data would reset the
        connection, and the client would lose the answer (a 413) it has not read yet."""

        lingering: bool

        def __init__(self, transport: asyncio.Transport, protocol: "_Protocol") -> None:
            self._t = transport
            self._p = protocol
            self.lingering = False

        def __getattr__(self, name: str) -> Any:
            return getattr(self._t, name)

        def is_closing(self) -> bool:
            return self.lingering or self._t.is_closing()

        def close(self) -> None:
            cycle = self._p.cycle
            unread = cycle is not None and cycle.more_body and not cycle.disconnected
            if self.lingering or not unread or self._t.is_closing():
                self._t.close()
                return
            self.lingering = True
            self._p._tt_cancel_timer()
            try:
                self._t.write_eof()
                self._t.resume_reading()
            except (OSError, RuntimeError, NotImplementedError):
                self._t.close()
                return
            self._p.loop.call_later(_LINGER_SECONDS, self._t.close)

    class _Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._tt_timer: asyncio.TimerHandle | None = None
            self._tt_cycle = None          # the last request whose headers arrived
            self._tt_waiting = True        # between requests: no complete headers yet
            self._tt_partial = False       # bytes of the next request have arrived
            self._tt_peer_eof = False      # the client half-closed after its request
            self._tt_discarded = 0

        # -- deadlines
        def _tt_cancel_timer(self) -> None:
            if self._tt_timer is not None:
                self._tt_timer.cancel()
                self._tt_timer = None

        def _tt_arm(self) -> None:
            self._tt_cancel_timer()
            self._tt_timer = self.loop.call_later(owner.header_timeout, self._tt_header_late)

        def _tt_header_late(self) -> None:
            self._tt_timer = None
            if not self._tt_waiting or self.transport.is_closing():
                return
            if self._tt_partial:
                owner.metrics.closed.labels("header_timeout").inc()
                body = dump_json({"error": f"the request headers did not arrive within "
                                           f"{owner.header_timeout:g} s", "status": 408,
                                  "reason": "header_timeout"})
                owner.metrics.observe_request("other", 408, owner.header_timeout,
                                              "header_timeout")
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: "
                                     b"application/json\r\nconnection: close\r\n"
                                     b"content-length: %d\r\n\r\n%s" % (len(body), body))
            else:
                owner.metrics.closed.labels("idle").inc()
            self.transport.close()

        # -- uvicorn's protocol, extended
        def connection_made(self, transport: asyncio.Transport) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # h11 writes a response's head and body separately: with Nagle's algorithm
                # on, the body waits for the client's delayed ACK of the head — 40 ms per
                # keep-alive request on Linux. asyncio sets TCP_NODELAY only on sockets whose
                # protocol number says TCP, so it is set here, whatever the listener was.
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            super().connection_made(_Transport(transport, self))
            self._tt_arm()  # a new connection gets header_timeout for its first request

        def connection_lost(self, exc: Exception | None) -> None:
            self._tt_cancel_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.transport.lingering:
                self._tt_discarded += len(data)
                if self._tt_discarded > 2 * owner.max_body_bytes:
                    self.transport._t.close()
                return
            if self._tt_waiting:
                self._tt_partial = True
                if self._tt_timer is None:  # first byte of a keep-alive request
                    self._tt_arm()
            super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and self.cycle is not self._tt_cycle:
                self._tt_cycle = self.cycle  # a request's headers are complete
                self._tt_waiting = self._tt_partial = False
                self._tt_cancel_timer()

        def on_response_complete(self) -> None:
            self._tt_waiting = True  # before: a pipelined request may start inside
            super().on_response_complete()
            if self._tt_peer_eof and not self.transport.is_closing():
                self.transport.close()

        def eof_received(self) -> bool | None:
            cycle = self.cycle
            if self.transport.lingering or cycle is None or cycle.response_complete:
                return None  # close
            if cycle.more_body:  # the body ended before its Content-Length: h11 says so
                self.conn.receive_data(b"")
                self.handle_events()
                return None
            self._tt_peer_eof = True  # the request is whole: answer it, then close
            return True

        def send_400_response(self, msg: str) -> None:
            err = sys.exc_info()[1]  # called from uvicorn's `except h11.RemoteProtocolError`
            status = int(getattr(err, "error_status_hint", 400) or 400)
            cycle = self.cycle
            in_body = (cycle is not None and not cycle.response_complete and cycle.more_body
                       and cycle is self._tt_cycle)
            reason = "truncated" if in_body and "complete message body" in str(err) else "protocol"
            endpoint = "other"
            if in_body:
                path = cycle.scope.get("path")
                endpoint = path if path in ENDPOINTS else "other"
            owner.metrics.observe_request(endpoint, status, 0.0, reason)
            if cycle is not None and cycle.response_started and not cycle.response_complete:
                self.transport._t.close()
                return
            text = f"malformed HTTP request: {err or msg}"
            body = dump_json({"error": text, "status": status, "reason": reason})
            phrase = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}.get(
                status, b"Error")
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                                 % (status, phrase, len(body), body))
            if cycle is not None and not cycle.response_complete:
                cycle.scope["tinytorch.answered"] = True  # the app must not count it again
                cycle.disconnected = True  # the app's reads end, its answer goes nowhere
                cycle.message_event.set()
            self.transport._t.close()

    return _Protocol


class _App:
    """The Starlette application: four routes around a :class:`ModelService`."""

    def __init__(self, owner: "ASGIModelServer") -> None:
        self.o = owner
        self.free = owner.body_memory      # bytes of body budget left
        self.waiting = 0                   # requests waiting for some of it
        self.room: asyncio.Condition | None = None  # both made by lifespan(), on the loop
        self.parser: ThreadPoolExecutor | None = None
        self.inflight = 0

    def build(self) -> Any:
        routes = [Route("/predict", self.predict, methods=["POST"]),
                  Route("/feedback", self.feedback, methods=["POST"]),
                  Route("/health", self.health, methods=["GET"]),
                  Route("/metrics", self.metrics, methods=["GET"])]
        app = Starlette(routes=routes, lifespan=self.lifespan,
                        exception_handlers={HTTPException: self.http_error})
        return self._guard(app)

    def _guard(self, app: Any) -> Any:
        """The app behind a check of the request head's size: h11 refuses a head that grows
        past the limit while it is still arriving, but a whole head read in one go is parsed
        whatever its size — so the app refuses it (431) before any route runs."""
        limit = self.o.max_header_bytes

        async def guarded(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) \
                    + sum(len(k) + len(v) + 4 for k, v in scope["headers"])
                if size > limit:
                    path = scope.get("path", "")
                    endpoint = path if path in ENDPOINTS else "other"
                    self.o.metrics.observe_request(endpoint, 431, 0.0, "protocol")
                    body = dump_json({"error": f"the request head is {size} bytes; the limit is "
                                               f"{limit}", "status": 431, "reason": "protocol"})
                    await send({"type": "http.response.start", "status": 431, "headers": [
                        (b"content-type", b"application/json"), (b"connection", b"close"),
                        (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
            await app(scope, receive, send)

        return guarded

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any):  # noqa: ANN201 - Starlette's lifespan protocol
        from concurrent.futures import ThreadPoolExecutor
        self.room = asyncio.Condition()
        self.parser = parser = ThreadPoolExecutor(1, thread_name_prefix="tinytorch-parse")
        self.o.batcher.start()
        try:
            yield
        finally:
            await self.o.batcher.stop()
            parser.shutdown(wait=False)
            if isinstance(self.o.predictor, ProcessPredictor):
                self.o.predictor.close()

    # ------------------------------------------------------------------ helpers
    def _respond(self, endpoint: str, status: int, body: bytes, start: float,
                 error: str | None = None, headers: dict | None = None,
                 media_type: str = "application/json") -> Response:
        # counted before the response is written: a client holding its answer always finds
        # its request in /metrics
        self.o.metrics.observe_request(endpoint, status, time.perf_counter() - start, error)
        return Response(body, status, headers=headers, media_type=media_type)

    @staticmethod
    def _has_body(request: Request) -> bool:
        length = request.headers.get("content-length")
        return (length is not None and length.strip() != "0") or \
            "chunked" in request.headers.get("transfer-encoding", "").lower()

    def _room(self) -> asyncio.Condition:
        if self.room is None:
            raise RuntimeError("ASGIModelServer: the app's lifespan has not started")
        return self.room

    async def _reserve(self, size: int, deadline: float) -> None:
        """Wait until ``size`` bytes of the body budget are free (503 at the deadline)."""
        if self.free >= size and not self.waiting:  # the usual case: no lock, no wait
            self.free -= size
            return
        loop = asyncio.get_running_loop()
        self.waiting += 1
        room = self._room()
        try:
            async with room:
                if self.free < size:
                    try:
                        await asyncio.wait_for(room.wait_for(lambda: self.free >= size),
                                               max(0.0, deadline - loop.time()))
                    except asyncio.TimeoutError:
                        raise RequestError(503, "the server is busy reading other large "
                                                "request bodies; retry in a moment",
                                           "overloaded") from None
                self.free -= size
        finally:
            self.waiting -= 1

    async def _release(self, size: int) -> None:
        self.free += size
        if self.waiting:
            room = self._room()
            async with room:
                room.notify_all()

    async def _read_body(self, request: Request, deadline: float, reserved: list) -> bytearray:
        """The body, read as it streams in: 413 as soon as it passes the limit (or at once
        when Content-Length announces more), 408 when it has not arrived by the deadline."""
        limit = self.o.max_body_bytes
        length_text = request.headers.get("content-length")
        size = limit
        if length_text is not None:
            size = int(length_text)  # h11 has checked it is a number
            if size > limit:
                raise RequestError(413, f"the body is {size} bytes; the limit is {limit} bytes "
                                        "(send fewer samples per request)", "too_large")
        await self._reserve(size, deadline)
        reserved.append(size)
        buf = bytearray()

        async def read() -> None:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                chunk = message.get("body", b"")
                if len(buf) + len(chunk) > limit:
                    raise RequestError(413, f"the body passed the limit of {limit} bytes "
                                            "(send fewer samples per request)", "too_large")
                buf.extend(chunk)
                if not message.get("more_body", False):
                    return

        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(read(), max(0.001, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise RequestError(408, f"the request body did not arrive within "
                                    f"{self.o.body_timeout:g} s ({len(buf)} bytes received)",
                               "body_timeout") from None
        return buf

    async def _body(self, request: Request, endpoint: str) -> tuple[list, list]:
        check_content_type(request.headers.get("content-type"))
        loop = asyncio.get_running_loop()
        reserved: list = []
        try:
            body = await self._read_body(request, loop.time() + self.o.body_timeout, reserved)
        except BaseException:
            if reserved:
                await self._release(reserved[0])
            raise
        return [body], reserved  # in a list: whoever decodes it pops it, and it is freed

    async def _post(self, request: Request, endpoint: str, work: Any) -> Response:
        """Read, check and answer a POST; every client error its 4xx, counted as such."""
        start = time.perf_counter()
        consumed = not self._has_body(request)
        headers: dict = {}
        self.inflight += 1
        try:
            box, reserved = await self._body(request, endpoint)
            consumed = True
            try:
                payload = await work(box, reserved)
            finally:
                if reserved:
                    await self._release(reserved[0])
            status, error = 200, None
        except RequestError as err:
            status, payload, error = err.status, dump_json(err.to_json()), err.reason
            if status == 503:
                headers["Retry-After"] = "1"
        except Overloaded as err:
            status, error = 503, "overloaded"
            payload = dump_json({"error": f"the server is overloaded ({err}); retry in a moment",
                                 "status": 503, "reason": error})
            headers["Retry-After"] = "1"
        except ClientDisconnect:
            # the client went away mid-body; a half-close was already answered 400 (and
            # counted) by the protocol, a reset cannot be answered: nginx's 499
            if not self._answered_by_protocol(request):
                self.o.metrics.observe_request(endpoint, 499, time.perf_counter() - start,
                                               "client_disconnected")
            return Response(b"", 499)
        except Exception as err:  # the model (or the server) failed: 500, keep serving
            status, error = 500, "internal"
            payload = dump_json({"error": f"internal error: {type(err).__name__}: {err}",
                                 "status": 500, "reason": error})
        finally:
            self.inflight -= 1
        if not consumed or self.o.draining:
            headers["Connection"] = "close"  # an unread body must not be taken for a request
        return self._respond(endpoint, status, payload, start, error, headers)

    @staticmethod
    def _answered_by_protocol(request: Request) -> bool:
        return bool(request.scope.get("tinytorch.answered"))

    # ------------------------------------------------------------------ endpoints
    async def predict(self, request: Request) -> Response:
        async def work(box: list, reserved: list) -> bytes:
            service = self.o.service
            body = box.pop()  # the only reference from here: freed once decoded
            if len(body) <= INLINE_PARSE_BYTES:
                x = service.parse_predict(body)
            else:
                loop = asyncio.get_running_loop()
                x = await loop.run_in_executor(self.parser, service.parse_predict, body)
            if reserved:  # the body is decoded: its budget can go to the next request
                await self._release(reserved.pop())
            del body
            classes, probabilities = await self.o.batcher.submit(x, incoming)
            return service.answer(classes, probabilities)

        # from its headers on, this request is on its way to the model: an idle batch waits
        # for it (a little), and stops waiting if it fails
        with self.o.batcher.incoming() as incoming:
            return await self._post(request, "/predict", work)

    async def feedback(self, request: Request) -> Response:
        async def work(box: list, reserved: list) -> bytes:
            return self.o.service.feedback(box.pop())
        return await self._post(request, "/feedback", work)

    async def health(self, request: Request) -> Response:
        start = time.perf_counter()
        o = self.o
        status, body = o.service.health(o.draining, {
            "engine": "uvicorn", "json": o.service.json_backend,
            "model_process": getattr(o.predictor, "pid", None),
            "batching": {"max_batch": o.batcher.max_batch,
                         "wait_ms": o.batcher.max_wait * 1000.0,
                         "forward_passes": o.batcher.forward_passes,
                         "requests": o.batcher.requests}})
        return self._respond("/health", status, body, start)

    async def metrics(self, request: Request) -> Response:
        start = time.perf_counter()
        o = self.o
        o.metrics.queued.set(o.batcher.queued)
        o.metrics.connections.set(o.open_connections)
        loop = asyncio.get_running_loop()
        # the monitor's drift tests take a few milliseconds: not on the event loop
        text = await loop.run_in_executor(None, o.service.metrics_text)
        return self._respond("/metrics", 200, text.encode(), start,
                             media_type=METRICS_CONTENT_TYPE)

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        start = time.perf_counter()
        path = request.url.path
        endpoint = path if path in ENDPOINTS else "other"
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            reason = "not_found"
            text = (f"no endpoint {path!r} (endpoints: "
                    f"{', '.join(f'{m} {p}' for p, m in ENDPOINTS.items())})")
        elif exc.status_code == 405:
            reason = "method_not_allowed"
            headers["Allow"] = ENDPOINTS.get(path, headers.get("Allow", ""))
            text = f"{path} takes {ENDPOINTS.get(path)}, not {request.method}"
        else:
            reason, text = "http_error", str(exc.detail)
        if self._has_body(request):
            headers["Connection"] = "close"
        body = dump_json({"error": text, "status": exc.status_code, "reason": reason})
        return self._respond(endpoint, exc.status_code, body, start, reason, headers)


class ASGIModelServer:
    """An HTTP server for a classifier on uvicorn, with limits and dynamic batching.

    Args:
        model: a model, or a :class:`Predictor` wrapping one.
        input_shape: the shape of one input sample (requests are checked against it).
        classes: class names, in output order (reported as ``labels``).
        host: interface to bind; 127.0.0.1 (this machine only) by default.
        port: TCP port; 0 picks a free one (see :attr:`port` after construction).
        max_body_bytes: the largest request body (413 beyond; the body is not read past it).
        max_samples: most samples in one request (422 beyond).
        max_batch: most samples in one forward pass (dynamic batching; 1 turns it off).
        batch_wait_ms: how long the first request of a batch waits for others.
        max_queue: most requests waiting for the model (503 beyond).
        max_connections: most open connections; a request beyond it is answered 503 at once
            (uvicorn's ``limit_concurrency``; lowered if the open-file limit is lower).
        header_timeout: seconds for a request's headers to arrive (from the connection, or
            from the first byte of a keep-alive request); the connection is then closed.
        body_timeout: seconds for a request's body to arrive (408).
        idle_timeout: seconds a keep-alive connection may wait for its next request.
        max_header_bytes: the largest request head (431 beyond).
        body_memory: bytes of request bodies held at once (default 4 × ``max_body_bytes``);
            a request waits for room, 503 after ``body_timeout``.
        monitor: a :class:`Monitor` fed with every forward pass (drift in ``/metrics``).
        info: labels for ``tinytorch_model_info`` and ``/health`` (name, version...).
        output: what the model returns (``"logits"``...), when ``model`` is not a Predictor.
        log_requests: an access log line per request on stderr.
        raise_file_limit: raise the open-file soft limit to the hard limit on :meth:`start`.
    """

    def __init__(self, model: Any, input_shape: tuple | None = None, classes: list | None = None,
                 host: str = "127.0.0.1", port: int = 8000, *,
                 max_body_bytes: int = DEFAULT_MAX_BODY, max_samples: int = DEFAULT_MAX_BATCH,
                 max_batch: int = 32, batch_wait_ms: float = 5.0, max_queue: int = 1024,
                 max_connections: int = 2048, header_timeout: float = 10.0,
                 body_timeout: float = 30.0, idle_timeout: float = 15.0,
                 max_header_bytes: int = 16 * 1024, body_memory: int | None = None,
                 monitor: Monitor | None = None, info: dict | None = None,
                 output: str = "logits", log_requests: bool = False,
                 raise_file_limit: bool = True) -> None:
        for name, value in (("max_body_bytes", max_body_bytes), ("max_samples", max_samples),
                            ("max_batch", max_batch), ("max_queue", max_queue),
                            ("max_connections", max_connections),
                            ("max_header_bytes", max_header_bytes)):
            if int(value) < 1:
                raise ValueError(f"ASGIModelServer: {name} must be >= 1, got {value}")
        for name, seconds in (("header_timeout", header_timeout), ("body_timeout", body_timeout),
                              ("idle_timeout", idle_timeout)):
            if not float(seconds) > 0:
                raise ValueError(f"ASGIModelServer: {name} must be > 0 seconds, got {seconds}")
        if batch_wait_ms < 0:
            raise ValueError(f"ASGIModelServer: batch_wait_ms must be >= 0, got {batch_wait_ms}")
        self.predictor: Predictor | ProcessPredictor = (
            model if isinstance(model, (Predictor, ProcessPredictor)) else Predictor(model, output))
        self.max_body_bytes = int(max_body_bytes)
        self.max_samples = int(max_samples)
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.idle_timeout = float(idle_timeout)
        self.max_header_bytes = int(max_header_bytes)
        self.body_memory = max(int(body_memory or 4 * self.max_body_bytes), self.max_body_bytes)
        self.max_connections = int(max_connections)
        self.connection_limit = self.max_connections  # lowered on start() if files are short
        self.log_requests = log_requests
        self.raise_file_limit = raise_file_limit
        self.monitor = monitor
        self.metrics = PrometheusMetrics()
        self.service = ModelService(self.predictor, input_shape, classes, self.max_samples,
                                    monitor, dict(info or {}), self.metrics)
        self.metrics.set_info(self.service.info)
        self.input_shape = self.service.input_shape
        self.classes = self.service.classes
        self.info = self.service.info
        self.batcher = DynamicBatcher(self.service.predict, max_batch=int(max_batch),
                                      max_wait=float(batch_wait_ms) / 1000.0,
                                      max_queue=int(max_queue),
                                      on_batch=self.metrics.observe_batch)
        self.draining = False
        self._app = _App(self)
        self.app = self._app.build()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._clean = True
        self.file_limit: tuple | None = None
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                   socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, int(port)))
        except OSError:
            self._sock.close()
            raise

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_version(cls, version: Any, monitor: bool = True, model_process: bool = False,
                     **kwargs: Any) -> "ASGIModelServer":
        """A server for a registered :class:`~tinytorch.core.mlops.registry.ModelVersion`
        (verified on load); with ``monitor``, drift is tracked against its saved reference;
        with ``model_process``, the model runs in a child process of its own
        (:class:`~.workers.ProcessPredictor`: the event loop and the forward passes no longer
        share one GIL)."""
        settings = version_settings(version, monitor, load=not model_process)
        settings["info"].update(kwargs.pop("info", {}))
        server = cls(settings.pop("model"), **settings, **kwargs)  # settings checked first
        if model_process:
            try:
                server.predictor = server.service.predictor = ProcessPredictor(
                    version.path, settings["output"])
            except BaseException:
                server._sock.close()
                raise
        return server

    @classmethod
    def from_registry(cls, name: str, ref: int | str = "latest", root: str | None = None,
                      **kwargs: Any) -> "ASGIModelServer":
        """A server for version ``ref`` (number, ``"latest"`` or stage) of ``name``."""
        from .registry import ModelRegistry
        return cls.from_version(ModelRegistry(root).get(name, ref), **kwargs)

    # ------------------------------------------------------------------ address
    @property
    def host(self) -> str:
        """The bound interface."""
        return self._sock.getsockname()[0] if not self._stopped else self._address[0]

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        return self._sock.getsockname()[1] if not self._stopped else self._address[1]

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Client connections open now."""
        return 0 if self._server is None else len(self._server.server_state.connections)

    # ------------------------------------------------------------------ running
    def _config(self) -> "uvicorn.Config":
        limit = self.max_connections
        if self.file_limit is not None:  # each connection is a file; keep some for the rest
            limit = max(1, min(limit, int(self.file_limit[0]) - 64))
        self.connection_limit = limit
        if self.log_requests:
            access = logging.getLogger("uvicorn.access")
            if not access.handlers:
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
                access.addHandler(handler)
                access.setLevel(logging.INFO)
        return uvicorn.Config(
            self.app, http=_protocol_class(self), ws="none", lifespan="on", loop="asyncio",
            log_config=None, log_level="warning", access_log=self.log_requests,
            timeout_keep_alive=self.idle_timeout, limit_concurrency=limit,
            h11_max_incomplete_event_size=self.max_header_bytes, backlog=2048,
            timeout_graceful_shutdown=30)

    def start(self) -> "ASGIModelServer":
        """Serve on a background thread (its own event loop); returns self once listening."""
        if self._stopped:
            raise RuntimeError("this ASGIModelServer has been shut down; make a new one")
        if self._thread is not None:
            return self
        if self.raise_file_limit:
            self.file_limit = raise_open_file_limit()
        self._address = self._sock.getsockname()[:2]
        self._server = server = uvicorn.Server(self._config())
        failure: list = []

        def run() -> None:
            try:
                server.run(sockets=[self._sock])
            except BaseException as err:  # noqa: BLE001 - reported to start()
                failure.append(err)

        self._thread = threading.Thread(target=run, name="tinytorch-serve-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if failure or not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {failure[0] if failure else 'timeout'}")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` is called from another thread."""
        self.start()
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop gracefully: refuse new connections, close idle ones, let requests in progress
        finish (up to ``timeout`` seconds). Returns True if every request finished."""
        if self._stopped:
            return self._clean
        self._stopped = True
        self.draining = True
        if self._server is not None and self._thread is not None:
            self._server.config.timeout_graceful_shutdown = max(1, int(timeout))
            self._server.should_exit = True
            self._thread.join(timeout + 5)
            self._clean = not self._thread.is_alive() and self._app.inflight == 0
        else:
            self._address = self._sock.getsockname()[:2]
        self._sock.close()
        if isinstance(self.predictor, ProcessPredictor):  # closed by the lifespan if it ran
            self.predictor.close()
        return self._clean

    def __enter__(self) -> "ASGIModelServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
