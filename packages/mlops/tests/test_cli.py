"""``tito serve`` as a real process, and ``tito registry``."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from importlib import metadata


from tinytorch.core.mlops import cli, parse_metrics


def test_the_tito_plugins_are_declared():
    eps = {ep.name: ep for ep in metadata.entry_points(group="tinytorch.tito")
           if ep.value.startswith("tinytorch.core.mlops")}
    assert set(eps) == {"serve", "registry"}
    assert eps["serve"].load() is cli.register and eps["registry"].load() is cli.register_registry


def _lines(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)
    q.put(None)


def test_serve_runs_as_a_process_and_stops_gracefully(registry, make_mlp, tabular):
    x, y = tabular
    v = registry.register("mlp", make_mlp(), metrics={"test_accuracy": 0.5}, data=(x, y),
                          reference_size=100)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "tinytorch.core.mlops", "serve", "mlp:1",
                             "--registry", registry.root, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    try:
        first = out.get(timeout=120)
        match = re.search(r"serving mlp v1 \(input shape \[4\], drift monitored\) on "
                          r"(http://127\.0\.0\.1:\d+)", first or "")
        assert match, first
        url = match.group(1)
        with urllib.request.urlopen(url + "/health", timeout=60) as resp:
            assert json.loads(resp.read())["model"] == {"name": "mlp", "version": 1}
        req = urllib.request.Request(url + "/predict", json.dumps({"inputs": x[:3].tolist()}).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert len(json.loads(resp.read())["predictions"]) == 3
        text = urllib.request.urlopen(url + "/metrics", timeout=60).read().decode()
        key = ("tinytorch_requests_total", frozenset({("endpoint", "/predict"), ("status", "200")}))
        assert parse_metrics(text)[key] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = []
    while (line := out.get(timeout=60)) is not None:
        rest.append(line)
    assert "shutting down" in "".join(rest) and rest[-1].strip() == "stopped"
    assert v.version == 1


def test_serve_by_path_and_errors(registry, make_mlp, capsys):
    v = registry.register("mlp", make_mlp())
    assert cli.resolve_model(v.path).version == 1
    assert cli.resolve_model("mlp", registry.root).version == 1
    assert cli.main(["serve", "nothere", "--registry", registry.root]) == 2
    assert "no model named 'nothere'" in capsys.readouterr().err
    with open(v.weights_path, "ab") as f:
        f.write(b"tampered")
    assert cli.main(["serve", v.path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tito serve: ") and "model.npz" in err and "tampered with" in err


def test_registry_commands(registry, make_mlp, capsys):
    for seed in range(2):
        registry.register("mlp", make_mlp(seed), metrics={"acc": 0.5 + seed / 10})
    root = ["--registry", registry.root]
    assert cli.main(["registry", "promote", "mlp", "1", "production", *root]) == 0
    assert cli.main(["registry", "promote", "mlp", "2", "production", *root]) == 0
    assert "mlp: production = v2" in capsys.readouterr().out
    assert cli.main(["registry", "list", *root]) == 0
    assert "mlp: versions [1, 2]; stages production=v2" in capsys.readouterr().out
    assert cli.main(["registry", "list", "mlp", *root]) == 0
    assert '"acc": 0.6' in capsys.readouterr().out
    assert cli.main(["registry", "rollback", "mlp", "production", *root]) == 0
    assert "rolled back to v1" in capsys.readouterr().out
    assert cli.main(["registry", "rollback", "mlp", "production", *root]) == 2
    assert "no earlier version" in capsys.readouterr().err
    assert cli.main(["registry", "show", "mlp:production", *root]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 1 and shown["metrics"] == {"acc": 0.5}
    assert registry.stages("mlp") == {"production": 1}


def test_serve_options_reach_the_server(monkeypatch, registry, make_mlp):
    registry.register("mlp", make_mlp())
    seen = {}

    class Fake:
        monitor = None
        url = "http://127.0.0.1:1"

        @classmethod
        def from_version(cls, version, monitor, **kwargs):
            seen.clear()
            seen.update(kwargs, monitor=monitor, engine=cls.engine)
            raise OSError("address in use")

    from tinytorch.core.mlops import asgi, server
    monkeypatch.setattr(server, "ModelServer", type("FakeStdlib", (Fake,), {"engine": "stdlib"}))
    monkeypatch.setattr(asgi, "ASGIModelServer", type("FakeASGI", (Fake,), {"engine": "uvicorn"}))
    base = ["serve", "mlp", "--registry", registry.root, "--port", "9", "--max-samples", "7",
            "--max-body", "1000", "--no-monitor"]
    assert cli.main(base + ["--engine", "stdlib"]) == 2
    assert seen == {"host": "127.0.0.1", "port": 9, "log_requests": False, "max_batch": 7,
                    "max_body_bytes": 1000, "monitor": False, "engine": "stdlib"}
    assert cli.main(base + ["--max-batch", "16", "--batch-wait-ms", "2", "--max-connections",
                            "100", "--max-queue", "50", "--header-timeout", "3",
                            "--body-timeout", "4", "--idle-timeout", "5",
                            "--max-header-bytes", "4096"]) == 2
    assert seen == {"host": "127.0.0.1", "port": 9, "log_requests": False, "max_samples": 7,
                    "max_body_bytes": 1000, "monitor": False, "engine": "uvicorn",
                    "max_batch": 16, "batch_wait_ms": 2.0, "max_connections": 100,
                    "max_queue": 50, "header_timeout": 3.0, "body_timeout": 4.0,
                    "idle_timeout": 5.0, "max_header_bytes": 4096, "model_process": True}
    assert cli.main(base + ["--no-model-process"]) == 2
    assert seen["model_process"] is False and seen["max_batch"] == 32


def test_serve_without_the_serve_extra_says_what_to_install(monkeypatch, registry, make_mlp,
                                                            capsys):
    import builtins
    registry.register("mlp", make_mlp())
    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn" or name.startswith("uvicorn."):
            raise ImportError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)

    import tinytorch.core.mlops as package
    monkeypatch.delitem(sys.modules, "tinytorch.core.mlops.asgi", raising=False)
    monkeypatch.delattr(package, "asgi", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    assert cli.main(["serve", "mlp", "--registry", registry.root, "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("tito serve: ") and "pip install 'tinytorch-mlops[serve]'" in err
    assert "uvicorn is missing" in err


def test_serve_refuses_bad_settings_in_one_line(registry, make_mlp, capsys):
    registry.register("mlp", make_mlp())
    assert cli.main(["serve", "mlp", "--registry", registry.root, "--port", "0",
                     "--max-batch", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tito serve: ASGIModelServer: max_batch must be >= 1, got 0"
