"""``tito serve`` and ``tito registry``: the tito plugins of tinytorch-mlops.

    tito serve cifar-cnn                   latest version of a registered model
    tito serve cifar-cnn:production        the version in a stage (or cifar-cnn:3)
    tito serve runs/registry/cifar-cnn/v3  a version folder, by path
    tito serve cnn --engine stdlib         the lesson's standard-library server instead
    tito registry list [NAME]              models, versions, stages
    tito registry promote NAME VERSION STAGE
    tito registry rollback NAME STAGE

``tito serve`` runs uvicorn (:mod:`.asgi`, the ``serve`` extra); without the extra it says in
one line what to install.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from typing import Any

__all__ = ["register", "register_registry", "run_serve", "run_registry", "resolve_model", "main"]


def _debug_reraise() -> None:
    """Under ``TINYTORCH_DEBUG=1`` (any value but empty or 0), let the exception being handled
    through with its traceback instead of the one-line message. Call it from an ``except``."""
    if os.environ.get("TINYTORCH_DEBUG", "").strip() not in ("", "0"):
        raise  # noqa: PLE0704 - re-raises the exception the caller is handling


def _registry_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", default=None, metavar="DIR",
                        help="the registry folder (default $TINYTORCH_REGISTRY or runs/registry)")


def _port(text: str) -> int:
    """``--port``: a whole number from 0 to 65535 (argparse names the bad value)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: use 0 to 65535 "
                                         "(0: any free port)")
    return port


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito serve`` to the command line."""
    parser = subparsers.add_parser(
        "serve", help="serve a registered model over HTTP (POST /predict, GET /health, /metrics)",
        description="Serve a model from the registry over HTTP until Ctrl+C (or SIGTERM), "
                    "then shut down gracefully. Endpoints: POST /predict {\"inputs\": [...]}, "
                    "POST /feedback, GET /health, GET /metrics (Prometheus text).")
    parser.add_argument("model", help="NAME, NAME:VERSION, NAME:STAGE (e.g. cnn:production), or "
                                      "the path of a version folder")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free)")
    _registry_arg(parser)
    parser.add_argument("--engine", choices=("uvicorn", "stdlib"), default="uvicorn",
                        help="uvicorn (default; needs the serve extra): limits, deadlines, "
                             "dynamic batching; stdlib: the lesson's ThreadingHTTPServer")
    parser.add_argument("--max-batch", type=int, default=32, metavar="N",
                        help="most samples in one forward pass: concurrent requests are "
                             "batched up to this (32; 1 turns batching off; uvicorn only)")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, metavar="MS",
                        help="how long a request waits for others to share its forward pass "
                             "(5 ms; uvicorn only)")
    parser.add_argument("--model-process", action=argparse.BooleanOptionalAction, default=True,
                        help="run the model in a process of its own, so that the forward "
                             "passes and the event loop do not share one GIL (default on; "
                             "uvicorn only)")
    parser.add_argument("--max-samples", type=int, default=None, metavar="N",
                        help="most samples in one request (256; 422 beyond)")
    parser.add_argument("--max-body", type=int, default=None, metavar="BYTES",
                        help="largest request body in bytes (8 MiB; 413 beyond)")
    parser.add_argument("--max-connections", type=int, default=2048, metavar="N",
                        help="open connections before requests are answered 503 (2048; "
                             "uvicorn only)")
    parser.add_argument("--max-queue", type=int, default=1024, metavar="N",
                        help="requests waiting for the model before 503 (1024; uvicorn only)")
    parser.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                        help="seconds for a request's headers to arrive (10; uvicorn only)")
    parser.add_argument("--body-timeout", type=float, default=30.0, metavar="S",
                        help="seconds for a request's body to arrive (30; uvicorn only)")
    parser.add_argument("--max-header-bytes", type=int, default=16384, metavar="BYTES",
                        help="largest request head (16 KiB; 431 beyond; uvicorn only)")
    parser.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                        help="seconds a keep-alive connection may idle (15 for uvicorn, 30 "
                             "for stdlib)")
    parser.add_argument("--no-monitor", action="store_true",
                        help="do not track drift against the model's training reference")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    parser.set_defaults(func=run_serve)


def register_registry(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito registry`` to the command line."""
    parser = subparsers.add_parser("registry", help="list registered models; promote and roll "
                                                    "back stages",
                                   description="Inspect and manage the model registry.")
    sub = parser.add_subparsers(dest="registry_command", metavar="COMMAND")
    p = sub.add_parser("list", help="models, their versions and stages")
    p.add_argument("name", nargs="?", help="one model (shows each version's metrics)")
    _registry_arg(p)
    p = sub.add_parser("show", help="a version's metadata as JSON (verified)")
    p.add_argument("model", help="NAME[:VERSION|STAGE]")
    _registry_arg(p)
    p = sub.add_parser("promote", help="put a version in a stage")
    p.add_argument("name")
    p.add_argument("version", help="a number, 'latest', or another stage")
    p.add_argument("stage", help="e.g. staging or production")
    _registry_arg(p)
    p = sub.add_parser("rollback", help="put back the version a stage held before")
    p.add_argument("name")
    p.add_argument("stage")
    _registry_arg(p)
    parser.set_defaults(func=run_registry, _parser=parser)


def resolve_model(spec: str, root: str | None = None) -> Any:
    """The :class:`ModelVersion` that ``spec`` names: a version folder, or NAME[:VERSION|STAGE]."""
    from .registry import METADATA_FILE, ModelRegistry, ModelVersion
    if os.path.isdir(spec) and os.path.isfile(os.path.join(spec, METADATA_FILE)):
        return ModelVersion.from_dir(spec)
    name, _, ref = spec.partition(":")
    return ModelRegistry(root).get(name, ref or "latest")


def _server_for(args: argparse.Namespace, version: Any) -> Any:
    """The server ``args`` ask for (not started); ImportError without the serve extra,
    ValueError for a bad setting, OSError when the address is taken."""
    kwargs: dict = {"host": args.host, "port": args.port, "log_requests": args.access_log}
    if args.max_body is not None:
        kwargs["max_body_bytes"] = args.max_body
    if args.engine == "stdlib":
        from .server import ModelServer
        if args.max_samples is not None:
            kwargs["max_batch"] = args.max_samples
        if args.idle_timeout is not None:
            kwargs["idle_timeout"] = args.idle_timeout
        return ModelServer.from_version(version, monitor=not args.no_monitor, **kwargs)
    from .asgi import ASGIModelServer
    if args.max_samples is not None:
        kwargs["max_samples"] = args.max_samples
    if args.idle_timeout is not None:
        kwargs["idle_timeout"] = args.idle_timeout
    kwargs.update(max_batch=args.max_batch, batch_wait_ms=args.batch_wait_ms,
                  max_connections=args.max_connections, max_queue=args.max_queue,
                  header_timeout=args.header_timeout, body_timeout=args.body_timeout,
                  max_header_bytes=args.max_header_bytes)
    return ASGIModelServer.from_version(version, monitor=not args.no_monitor,
                                        model_process=args.model_process, **kwargs)


def run_serve(args: argparse.Namespace) -> int:
    """Run ``tito serve``; returns the exit code."""
    from .hashing import IntegrityError
    from .registry import RegistryError
    if args.engine == "uvicorn":
        try:  # the serve extra, checked before loading a model
            importlib.import_module(f"{__package__}.asgi")
        except ImportError as err:
            _debug_reraise()
            print(f"tito serve: {err} (or --engine stdlib, the standard-library server)",
                  file=sys.stderr)
            return 2
    try:
        version = resolve_model(args.model, args.registry)
    except (RegistryError, IntegrityError, ValueError) as err:
        _debug_reraise()
        print(f"tito serve: {err}", file=sys.stderr)
        return 2
    try:
        server = _server_for(args, version)
    except (ValueError, RuntimeError) as err:  # a bad setting; a model process that failed
        _debug_reraise()
        print(f"tito serve: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        _debug_reraise()
        print(f"tito serve: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    server.start()
    monitor = "drift monitored" if server.monitor is not None else "no drift monitoring"
    print(f"serving {version.name} v{version.version} (input shape {list(version.input_shape)}, "
          f"{monitor}) on {server.url}", flush=True)
    if args.engine == "uvicorn":
        b = server.batcher
        print(f"  uvicorn: batches of up to {b.max_batch} samples (waiting {args.batch_wait_ms:g} "
              f"ms); at most {server.connection_limit} connections, {b.max_queue} queued "
              f"requests; deadlines: headers {server.header_timeout:g} s, body "
              f"{server.body_timeout:g} s, idle {server.idle_timeout:g} s; bodies up to "
              f"{server.max_body_bytes} bytes; JSON via {server.service.json_backend}; model "
              + (f"in process {server.predictor.pid}" if args.model_process
                 else "on a thread of this process"), flush=True)
    else:
        print("  stdlib: ThreadingHTTPServer, one thread per connection (no connection cap, "
              "no header deadline: for the lesson, not for exposure)", flush=True)
    print("  POST /predict  POST /feedback  GET /health  GET /metrics   (Ctrl+C stops)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("shutting down: finishing requests in progress ...", flush=True)
        clean = server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped" + ("" if clean else " (some requests did not finish in time)"), flush=True)
    return 0


def run_registry(args: argparse.Namespace) -> int:
    """Run ``tito registry ...``; returns the exit code."""
    from .hashing import IntegrityError
    from .registry import ModelRegistry, RegistryError
    if not getattr(args, "registry_command", None):
        args._parser.print_help()
        return 2
    registry = ModelRegistry(args.registry)
    if args.registry is not None and not os.path.isdir(args.registry):
        what = "is not a folder" if os.path.exists(args.registry) else "does not exist"
        print(f"tito registry: --registry {args.registry} {what}: give the registry folder "
              "(default $TINYTORCH_REGISTRY or runs/registry)", file=sys.stderr)
        return 2
    try:
        if args.registry_command == "list":
            names = [args.name] if args.name else registry.models()
            if not names:
                print(f"no models in {registry.root}")
            for name in names:
                stages = registry.stages(name)
                print(f"{name}: versions {registry.versions(name)}; stages "
                      + (", ".join(f"{s}=v{v}" for s, v in stages.items()) or "none"))
                if args.name:
                    for v in registry.versions(name):
                        meta = registry.get(name, v, verify=False).metadata
                        print(f"  v{v}  {meta.get('created', '')}  metrics "
                              f"{json.dumps(meta.get('metrics', {}))}")
        elif args.registry_command == "show":
            version = resolve_model(args.model, args.registry)
            print(json.dumps(version.metadata, indent=1, sort_keys=True))
        elif args.registry_command == "promote":
            v = registry.promote(args.name, args.version, args.stage)
            print(f"{args.name}: {args.stage} = v{v}")
        elif args.registry_command == "rollback":
            v = registry.rollback(args.name, args.stage)
            print(f"{args.name}: {args.stage} rolled back to v{v}")
    except (RegistryError, IntegrityError, ValueError) as err:
        _debug_reraise()
        print(f"tito registry: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tinytorch.core.mlops serve|registry ...``: the same commands without tito."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.core.mlops",
                                     description="tito serve / tito registry, standalone.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    register_registry(sub)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
