"""Serving a model over HTTP with nothing but the standard library (the lesson's server).

    server = ModelServer.from_registry("cifar-cnn", "production", port=8000).start()
    # ... POST http://127.0.0.1:8000/predict  {"inputs": [[[[...]]]]}
    server.shutdown()

or from the command line: ``tito serve cifar-cnn:production --engine stdlib``. (``tito serve``
runs :class:`~tinytorch.core.mlops.asgi.ASGIModelServer` by default — uvicorn, with connection
caps, header and body deadlines and dynamic batching; the ``serve`` extra. This server needs
nothing beyond the standard library; it is the one to read, not the one to expose.)

Endpoints:

``POST /predict``
    ``{"inputs": [sample, ...]}`` → ``{"predictions": [3, 8, ...], "probabilities": [[...], ...],
    "labels": ["cat", "ship", ...] (with class names), "model": {...}, "id": "..."}``.
    The body is validated before the model runs (:mod:`tinytorch.core.mlops.validation`); a
    bad one gets a 4xx with ``{"error": "<what was wrong>", "status": 4xx, "reason": ...}``.
``POST /feedback``
    ``{"id": "<id of an earlier prediction>", "labels": [true class per sample]}``: feeds the
    accuracy tracker (labels often arrive long after the prediction).
``GET /health``
    ``{"status": "ok", "model": ...}`` (503 ``"shutting down"`` while draining).
``GET /metrics``
    Prometheus text: requests by endpoint and status, errors by reason, a latency histogram,
    predicted-class counts, and with a monitor the drift statistics and accuracy as gauges.

The server is :class:`http.server.ThreadingHTTPServer` — one thread per connection — with
HTTP/1.1 keep-alive. What it does with a request body is :class:`~.service.ModelService`'s
job, shared with the uvicorn server. One thread per connection has no cap: a thousand idle
connections are a thousand threads, and a client that trickles its headers holds one forever. Model calls go through a :class:`Predictor` (one forward pass at a time,
under ``no_grad``; see there why). It binds to 127.0.0.1 unless told otherwise: a model
server should not be reachable from the network by accident.

Shutdown is graceful: :meth:`ModelServer.shutdown` stops accepting connections, closes idle
keep-alive connections, lets requests in progress finish (their responses carry
``Connection: close``), then returns.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from .metrics import ServerMetrics
from .monitoring import Monitor
from .predictor import Predictor
from .service import FEEDBACK_MEMORY, ModelService, dump_json, version_settings
from .validation import RequestError, check_content_type

__all__ = ["ModelServer", "DEFAULT_MAX_BODY", "DEFAULT_MAX_BATCH"]

DEFAULT_MAX_BODY = 8 * 1024 * 1024   # bytes: a batch of ~250 CIFAR images as JSON text
DEFAULT_MAX_BATCH = 256              # samples per request
ENDPOINTS = {"/predict": "POST", "/feedback": "POST", "/health": "GET", "/metrics": "GET"}
_FEEDBACK_MEMORY = FEEDBACK_MEMORY   # predictions remembered for /feedback


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True        # a stuck connection never keeps the process alive ...
    block_on_close = False       # ... and ModelServer.shutdown waits for requests itself
    allow_reuse_address = True
    request_queue_size = 128     # listen backlog (socketserver: 5, which drops SYNs in bursts)

    def __init__(self, address: tuple, app: "ModelServer") -> None:
        self.app = app
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer  # the server that made this handler (socketserver's BaseServer type)
    protocol_version = "HTTP/1.1"
    server_version = "tinytorch-serve/0.1"
    timeout: ClassVar[float] = 30  # seconds a connection may sit silent (idle keep-alive, a stalled body)
    # The headers and the body go out in two writes; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the headers (~40 ms on Linux) on a keep-alive connection.
    disable_nagle_algorithm = True

    # ------------------------------------------------------------------ connection bookkeeping
    def setup(self) -> None:
        # per connection: setup() below reads it (typeshed declares it a class variable)
        self.timeout = self.server.app.idle_timeout  # type: ignore[misc]
        super().setup()
        self.busy = False
        self._linger = False
        self.server.app._connection_opened(self)

    def finish(self) -> None:
        try:
            super().finish()
            if self._linger:
                self._lingering_close()
        finally:
            self.server.app._connection_closed(self)

    def _lingering_close(self) -> None:
        """After refusing a body without reading it: stop sending, then discard what the client
        is still sending for a moment, so that closing does not reset the connection before the
        client has read the error (what web servers call a lingering close)."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline, budget = time.monotonic() + 1.0, 1 << 20
            while budget > 0 and time.monotonic() < deadline:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                budget -= len(chunk)
        except OSError:
            pass

    def parse_request(self) -> bool:
        self.busy = True  # a request line has arrived: this connection is now in a request
        self._start = time.perf_counter()
        self._body_read = False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the base class detects itself (a garbled request line, headers too long, an
        unsupported method or HTTP version): a JSON body like every other error, and counted."""
        self.close_connection = True
        app = self.server.app
        text = message or explain or self.responses.get(code, ("error",))[0]
        if code == 501 and getattr(self, "command", None):
            text = f"method {self.command} is not supported (use GET or POST)"
        start = getattr(self, "_start", None)
        app.metrics.observe_request("other", code, 0.0 if start is None else
                                    time.perf_counter() - start, "protocol")
        body = _json({"error": text, "status": code, "reason": "protocol"})
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.end_headers()
        except OSError:
            pass
        finally:
            self.busy = False

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.log_requests:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ dispatch
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0]
        endpoint = path if path in ENDPOINTS else "other"
        extra: dict = {}
        error = None
        try:
            if path not in ENDPOINTS:
                raise RequestError(404, f"no endpoint {path!r} (endpoints: "
                                        f"{', '.join(f'{m} {p}' for p, m in ENDPOINTS.items())})",
                                   "not_found")
            if method != ENDPOINTS[path]:
                extra["Allow"] = ENDPOINTS[path]
                raise RequestError(405, f"{path} takes {ENDPOINTS[path]}, not {method}",
                                   "method_not_allowed")
            if path == "/health":
                status, body, ctype = app._health()
            elif path == "/metrics":
                status, body, ctype = 200, app._metrics_text().encode(), \
                    "text/plain; version=0.0.4; charset=utf-8"
            else:
                check_content_type(self.headers.get("Content-Type"))
                payload = self._read_body(app.max_body_bytes)
                if path == "/predict":
                    status, body, ctype = 200, app._predict(payload), "application/json"
                else:
                    status, body, ctype = 200, app._feedback(payload), "application/json"
        except RequestError as err:
            status, body, ctype = err.status, _json(err.to_json()), "application/json"
            error = err.reason
        except Exception as err:  # a bug or a model failure: answer 500, keep serving
            status = 500
            body = _json({"error": f"internal error: {type(err).__name__}: {err}",
                          "status": 500, "reason": "internal"})
            ctype, error = "application/json", "internal"
        if app.draining:
            self.close_connection = True
        if not self._body_read and (self.headers.get("Content-Length", "0").strip() != "0"
                                    or "Transfer-Encoding" in self.headers):
            self.close_connection = True  # an unread body would be taken for the next request
        # counted before the response is written: a client that has its answer always finds
        # its request in /metrics
        app.metrics.observe_request(endpoint, status, time.perf_counter() - self._start, error)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away
            self.close_connection = True
        finally:
            self.busy = False
            app._request_done()

    def _read_body(self, limit: int) -> bytes:
        """The request body, refused (411/413/400) from its headers before reading it."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(411, "chunked request bodies are not accepted: send a "
                                    "Content-Length", "length_required")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self.close_connection = True
            raise RequestError(411, "a Content-Length header is required", "length_required")
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise RequestError(400, f"Content-Length {length_text!r} is not a non-negative "
                                    "integer", "bad_length") from None
        if length > limit:
            self.close_connection = True
            self._linger = True
            raise RequestError(413, f"the body is {length} bytes; the limit is {limit} bytes "
                                    "(send fewer samples per request)", "too_large")
        body = self.rfile.read(length)
        self._body_read = True
        if len(body) < length:
            self.close_connection = True
            raise RequestError(400, f"the body ended after {len(body)} of the {length} bytes "
                                    "announced by Content-Length", "truncated")
        return body


_json = dump_json


class ModelServer:
    """An HTTP server for a classifier.

    Args:
        model: a model, or a :class:`Predictor` wrapping one.
        input_shape: the shape of one input sample (requests are checked against it).
        classes: class names, in output order (reported as ``labels``).
        host: interface to bind; 127.0.0.1 (this machine only) by default.
        port: TCP port; 0 picks a free one (see :attr:`port` after construction).
        max_body_bytes: larger bodies are refused (413) from their Content-Length.
        max_batch: most samples per request (422 beyond).
        monitor: a :class:`Monitor` fed with every served batch (drift in ``/metrics``).
        info: labels for ``tinytorch_model_info`` and ``/health`` (name, version...).
        output: what the model returns (``"logits"``, ``"probabilities"``...), when ``model``
            is not already a Predictor.
        log_requests: print an access log line per request to stderr.
        idle_timeout: seconds a connection may stay silent (between keep-alive requests, or
            in the middle of a body) before the server closes it.
    """

    def __init__(self, model: Any, input_shape: tuple | None = None, classes: list | None = None,
                 host: str = "127.0.0.1", port: int = 8000,
                 max_body_bytes: int = DEFAULT_MAX_BODY, max_batch: int = DEFAULT_MAX_BATCH,
                 monitor: Monitor | None = None, info: dict | None = None,
                 output: str = "logits", log_requests: bool = False,
                 idle_timeout: float = 30.0) -> None:
        self.predictor = model if isinstance(model, Predictor) else Predictor(model, output)
        self.max_body_bytes = int(max_body_bytes)
        self.max_batch = int(max_batch)
        self.monitor = monitor
        self.log_requests = log_requests
        self.idle_timeout = float(idle_timeout)
        self.metrics = ServerMetrics()
        self.service = ModelService(self.predictor, input_shape, classes, self.max_batch,
                                    monitor, dict(info or {}), self.metrics)
        self.input_shape = self.service.input_shape
        self.classes = self.service.classes
        self.info = self.service.info
        self.draining = False
        self.started = self.service.started
        self._connections: set = set()
        self._active = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._serving = False
        self.httpd = _HTTPServer((host, int(port)), self)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_version(cls, version: Any, monitor: bool = True, **kwargs: Any) -> "ModelServer":
        """A server for a registered :class:`~tinytorch.core.mlops.registry.ModelVersion`
        (verified on load); with ``monitor``, drift is tracked against its saved reference."""
        settings = version_settings(version, monitor)
        settings["info"].update(kwargs.pop("info", {}))
        return cls(**settings, **kwargs)

    @classmethod
    def from_registry(cls, name: str, ref: int | str = "latest", root: str | None = None,
                      **kwargs: Any) -> "ModelServer":
        """A server for version ``ref`` (number, ``"latest"`` or stage) of ``name``."""
        from .registry import ModelRegistry
        return cls.from_version(ModelRegistry(root).get(name, ref), **kwargs)

    # ------------------------------------------------------------------ address
    @property
    def host(self) -> str:
        """The bound interface."""
        return str(self.httpd.server_address[0])  # str for AF_INET/AF_INET6

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ running
    def serve_forever(self) -> None:
        """Serve on this thread until :meth:`shutdown` is called from another."""
        if self._stopped:
            raise RuntimeError("this ModelServer has been shut down; make a new one")
        self._serving = True
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> "ModelServer":
        """Serve on a background thread; returns self."""
        if self._stopped:
            raise RuntimeError("this ModelServer has been shut down; make a new one")
        if self._thread is None:
            self._serving = True  # before the thread runs: shutdown() must wait for it
            self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.2,),
                                            name="tinytorch-serve", daemon=True)
            self._thread.start()
        return self

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop gracefully: refuse new connections, close idle ones, let requests in progress
        finish (up to ``timeout`` seconds). Returns True if every request finished."""
        if self._stopped:
            return True
        self._stopped = True
        self.draining = True
        if self._serving:
            self.httpd.shutdown()    # serve_forever returns: no new connections are accepted
        self.httpd.server_close()    # and the port is free
        with self._cond:
            idle = [h for h in self._connections if not h.busy]
        for handler in idle:  # wake connections waiting for their next request
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._connections and time.monotonic() < deadline:
                for h in list(self._connections):  # went idle after finishing a request
                    if not h.busy:
                        try:
                            h.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                self._cond.wait(0.1)
            clean = not self._connections
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return clean

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    # ------------------------------------------------------------------ bookkeeping (handlers)
    def _connection_opened(self, handler: Any) -> None:
        with self._cond:
            self._connections.add(handler)

    def _connection_closed(self, handler: Any) -> None:
        with self._cond:
            self._connections.discard(handler)
            self._cond.notify_all()

    def _request_done(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ endpoints
    def _health(self) -> tuple[int, bytes, str]:
        status, body = self.service.health(self.draining)
        return status, body, "application/json"

    def _predict(self, body: bytes) -> bytes:
        x = self.service.parse_predict(body)
        classes, probabilities = self.service.predict(x)
        return self.service.answer(classes, probabilities)

    def _feedback(self, body: bytes) -> bytes:
        return self.service.feedback(body)

    def _metrics_text(self) -> str:
        return self.service.metrics_text()
