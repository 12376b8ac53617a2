"""Shared fixtures: small real models, a registry in a temp folder, live servers on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.error
from typing import Any
import urllib.request

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.mlops import ModelRegistry, ModelServer
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import manual_seed


def make_mlp(seed: int = 0) -> Sequential:
    manual_seed(seed)
    return MLP(4, [16], 3)


def make_cnn(seed: int = 0) -> Sequential:
    """conv-BN-ReLU-pool → dense, on 3×8×8 images, with non-trivial BN statistics."""
    manual_seed(seed)
    model = Sequential([Conv2d(3, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                        Flatten(), Dense(4 * 4 * 4, 5)])
    rng = np.random.default_rng(seed)
    bn = model[1]
    bn.running_mean.data[...] = rng.normal(size=4).astype(np.float32)
    bn.running_var.data[...] = rng.uniform(0.5, 2.0, size=4).astype(np.float32)
    bn.weight.data[...] = rng.uniform(0.5, 1.5, size=4).astype(np.float32)
    bn.bias.data[...] = rng.normal(size=4).astype(np.float32)
    return model.eval()


@pytest.fixture(name="make_mlp")
def _make_mlp():
    """``make_mlp(seed)``: MLP(4, [16], 3) with seeded weights."""
    return make_mlp


@pytest.fixture(name="make_cnn")
def _make_cnn():
    """``make_cnn(seed)``: a conv-BN-ReLU-pool-dense net on 3×8×8 images."""
    return make_cnn


@pytest.fixture
def tabular():
    """(inputs, labels): 400 samples of 4 features, 3 classes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=400)
    return x, y


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "registry")


@pytest.fixture
def serve():
    """``serve(model, **kwargs)`` -> a started ModelServer on 127.0.0.1, port 0; all shut down
    at the end of the test."""
    servers = []

    def start(model, **kwargs):
        kwargs.setdefault("port", 0)
        server = ModelServer(model, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown(timeout=10)


def request(url: str, body: bytes | dict | None = None, method: str | None = None,
            headers: dict | None = None) -> tuple[int, dict | str, Any]:
    """(status, decoded JSON or text, headers — case-insensitive) of one HTTP request made with
    urllib."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    if headers is None:  # urllib would send a body as application/x-www-form-urlencoded
        headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw, hdrs = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, raw, hdrs = err.code, err.read(), err.headers
    text = raw.decode()
    if (hdrs.get("Content-Type") or "").startswith("application/json"):
        return status, json.loads(text), hdrs
    return status, text, hdrs


@pytest.fixture
def http():
    return request
