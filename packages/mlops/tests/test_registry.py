"""The model registry: versions on disk, stages, and refusing files that changed."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.mlops import (IntegrityError, ModelRegistry, ModelVersion, RegistryError,
                                  fingerprint_data, sha256_file)
from tinytorch.core.mlops import registry as registry_module
from tinytorch.core.tensor import Tensor



def outputs(model, x):
    model.eval()
    with no_grad():
        return model(Tensor(x)).data.copy()


def test_register_and_load_round_trip(registry, tabular, make_mlp):
    x, y = tabular
    model = make_mlp()
    v = registry.register("iris-ish", model, metrics={"test_accuracy": 0.8}, data=(x, y),
                          classes=["a", "b", "c"], description="demo")
    assert (v.name, v.version) == ("iris-ish", 1)
    assert v.path == os.path.join(registry.root, "iris-ish", "v1")
    assert sorted(os.listdir(v.path)) == ["metadata.json", "model.npz", "reference.npz"]
    loaded = registry.load("iris-ish")
    assert loaded.training is False
    np.testing.assert_array_equal(outputs(loaded, x[:10]), outputs(model, x[:10]))

    meta = json.loads(open(os.path.join(v.path, "metadata.json")).read())
    assert meta["metrics"] == {"test_accuracy": 0.8}
    assert meta["data"] == {"fingerprint": fingerprint_data((x, y)), "samples": 400}
    assert meta["files"]["weights"]["sha256"] == sha256_file(os.path.join(v.path, "model.npz"))
    assert meta["input_shape"] == [4] and meta["classes"] == ["a", "b", "c"]
    assert meta["architecture"]["type"] == "Sequential" and meta["output"] == "logits"
    assert "tinytorch-mlops" in meta["libraries"]


def test_a_cnn_with_batchnorm_round_trips(registry, make_cnn):
    model = make_cnn()
    x = np.random.default_rng(0).normal(size=(6, 3, 8, 8)).astype(np.float32)
    registry.register("cnn", model, data=x, reference_size=4)
    np.testing.assert_array_equal(outputs(registry.load("cnn"), x), outputs(model, x))
    ref = registry.get("cnn").reference()
    assert ref["inputs"].shape == (4, 6) and ref["probabilities"].shape == (4, 5)
    assert ref["feature_names"][:2] == ["channel0_mean", "channel1_mean"]
    np.testing.assert_allclose(ref["probabilities"].sum(axis=1), 1.0, rtol=1e-5)


def test_versions_count_up_and_latest_is_the_newest(registry, tabular, make_mlp):
    x, y = tabular
    for seed in range(3):
        registry.register("m", make_mlp(seed), metrics={"seed": seed})
    assert registry.versions("m") == [1, 2, 3]
    assert registry.models() == ["m"]
    assert registry.get("m").version == 3 and registry.get("m", "latest").version == 3
    assert registry.get("m", 2).metrics == {"seed": 1.0}
    assert registry.get("m", "v2").version == 2 and registry.get("m", "2").version == 2
    np.testing.assert_array_equal(outputs(registry.load("m", 1), x), outputs(make_mlp(0), x))
    with pytest.raises(RegistryError, match=r"'m' has no version 7 \(versions: \[1, 2, 3\]\)"):
        registry.get("m", 7)
    with pytest.raises(RegistryError, match="no model named 'nope'.*models: m"):
        registry.load("nope")


def test_stages_promote_and_rollback(registry, make_mlp):
    for seed in range(3):
        registry.register("m", make_mlp(seed))
    assert registry.stages("m") == {}
    with pytest.raises(RegistryError, match="no version in stage 'production'"):
        registry.load("m", "production")
    assert registry.promote("m", 1, "production") == 1
    assert registry.promote("m", "latest", "staging") == 3
    assert registry.promote("m", 2, "production") == 2
    assert registry.promote("m", "staging", "production") == 3   # staging's version goes live
    assert registry.stages("m") == {"production": 3, "staging": 3}
    assert registry.stage_history("m", "production") == [1, 2, 3]
    assert registry.get("m", "production").version == 3

    assert registry.rollback("m", "production") == 2
    assert registry.get("m", "production").version == 2
    assert registry.rollback("m", "production") == 1
    with pytest.raises(RegistryError, match="cannot roll back 'm' production: it has held only v1"):
        registry.rollback("m", "production")
    with pytest.raises(RegistryError, match="has held nothing"):
        registry.rollback("m", "canary")
    # stages live on disk: a second registry object sees them
    assert ModelRegistry(registry.root).stages("m") == {"production": 1, "staging": 3}


def test_promoting_twice_is_a_no_op_and_bad_names_are_refused(registry, make_mlp):
    registry.register("m", make_mlp())
    registry.promote("m", 1, "production")
    registry.promote("m", 1, "production")
    assert registry.stage_history("m", "production") == [1]
    for bad in ("latest", "1abc", "", "a/b"):
        with pytest.raises(ValueError, match="stage name"):
            registry.promote("m", 1, bad)
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="model name"):
            registry.register(bad, make_mlp())


def test_the_weights_file_is_checked_on_load(registry, make_mlp):
    v = registry.register("m", make_mlp())
    weights = os.path.join(v.path, "model.npz")
    recorded = sha256_file(weights)
    data = bytearray(open(weights, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(weights, "wb").write(bytes(data))
    actual = sha256_file(weights)
    with pytest.raises(IntegrityError) as err:
        registry.load("m")
    message = str(err.value)
    assert weights in message and recorded in message and actual in message
    assert "corrupt or was tampered with" in message


def test_edited_metadata_is_detected(registry, make_mlp):
    v = registry.register("m", make_mlp(), metrics={"test_accuracy": 0.5})
    path = os.path.join(v.path, "metadata.json")
    meta = json.load(open(path))
    meta["metrics"]["test_accuracy"] = 0.99  # someone improves the numbers by hand
    json.dump(meta, open(path, "w"))
    with pytest.raises(IntegrityError, match=r"metadata\.json was modified.*recorded sha256 "
                                             r"[0-9a-f]{64}, actual [0-9a-f]{64}"):
        registry.get("m")


def test_a_replaced_reference_or_missing_file_is_detected(registry, tabular, make_mlp):
    x, y = tabular
    v = registry.register("m", make_mlp(), data=(x, y), reference_size=50)
    ref = os.path.join(v.path, "reference.npz")
    np.savez(ref, inputs=np.zeros((50, 4), np.float32), probabilities=np.zeros((50, 3), np.float32))
    with pytest.raises(IntegrityError, match="reference of m v1"):
        registry.load("m")
    os.remove(ref)
    with pytest.raises(IntegrityError, match="reference.npz .* is missing"):
        registry.get("m")
    with pytest.raises(IntegrityError):  # a corrupt version is never promoted
        registry.promote("m", 1, "production")


def test_a_failed_registration_leaves_nothing_behind(registry, monkeypatch, make_mlp):
    registry.register("m", make_mlp())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(registry_module, "save_checkpoint", crash)
    with pytest.raises(OSError, match="disk full"):
        registry.register("m", make_mlp(1))
    assert registry.versions("m") == [1]
    assert sorted(os.listdir(os.path.join(registry.root, "m"))) == ["v1"]


def test_metrics_must_be_json_numbers_or_strings(registry, make_mlp):
    with pytest.raises(ValueError, match="metric 'loss' is nan"):
        registry.register("m", make_mlp(), metrics={"loss": float("nan")})
    with pytest.raises(TypeError, match="metric 'cm' is a ndarray"):
        registry.register("m", make_mlp(), metrics={"cm": np.eye(2)})
    v = registry.register("m", make_mlp(), metrics={"acc": np.float32(0.5), "note": "ok",
                                                    "best": True})
    assert v.metrics == {"acc": 0.5, "note": "ok", "best": True}
    assert registry.versions("m") == [1]


def test_an_unsupported_model_is_refused_before_writing(registry):
    from tinytorch.core.layers import Dense
    with pytest.raises(TypeError, match="expected a Sequential"):
        registry.register("m", Dense(2, 2))
    assert registry.versions("m") == []


def test_input_shape_comes_from_the_data_or_the_first_layer(registry, tabular, make_mlp,
                                                             make_cnn):
    x, y = tabular
    assert registry.register("a", make_mlp()).input_shape == (4,)
    with pytest.raises(ValueError, match="cannot tell the input shape"):
        registry.register("b", make_cnn())
    assert registry.register("b", make_cnn(), input_shape=(3, 8, 8)).input_shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"input_shape \(5,\) does not match"):
        registry.register("c", make_mlp(), data=(x, y), input_shape=(5,))


def test_concurrent_registrations_get_distinct_versions(registry, make_mlp):
    errors, versions = [], []

    def worker(seed):
        try:
            versions.append(registry.register("m", make_mlp(seed)).version)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(versions) == [1, 2, 3, 4, 5, 6] and registry.versions("m") == [1, 2, 3, 4, 5, 6]
    for v in registry.versions("m"):
        registry.get("m", v)  # each one complete and intact
    assert not [n for n in os.listdir(os.path.join(registry.root, "m")) if n.startswith(".tmp")]


def test_a_version_folder_opens_by_path(registry, make_mlp):
    v = registry.register("m", make_mlp())
    opened = ModelVersion.from_dir(v.path)
    assert (opened.name, opened.version) == ("m", 1)
    with pytest.raises(RegistryError, match="not a registered model version"):
        ModelVersion.from_dir(registry.root)


def test_the_weights_file_holds_no_pickle(registry, make_mlp):
    v = registry.register("m", make_mlp())
    with np.load(v.weights_path, allow_pickle=False) as data:  # would raise on pickled objects
        assert all(data[k].dtype != object for k in data.files)


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYTORCH_REGISTRY", str(tmp_path / "r"))
    assert ModelRegistry().root == str(tmp_path / "r")
    monkeypatch.delenv("TINYTORCH_REGISTRY")
    assert ModelRegistry().root == os.path.join("runs", "registry")
