"""The model registry: versioned models on disk, with stages, checked by hash on every load.

    registry = ModelRegistry("runs/registry")
    v = registry.register("cifar-cnn", model, metrics={"test_accuracy": 0.71},
                          data=(train_images, train_labels))
    registry.promote("cifar-cnn", v.version, "production")
    model = registry.load("cifar-cnn", "production")

On disk, one folder per version, never modified after it is written::

    runs/registry/cifar-cnn/
        v1/  model.npz        the weights (a TinyTorch checkpoint: .npz + JSON, no pickle)
             metadata.json    architecture spec, metrics, data fingerprint, hashes, input shape
             reference.npz    (optional) what the training inputs and predictions looked like,
                              for drift monitoring
        v2/  ...
        stages.json           which version each stage (staging, production, ...) holds, with
                              its history (for rollback)

A version is written into a temporary folder and renamed into place in one step, so a reader
never sees half a version, and two processes registering at once get different numbers.
``stages.json`` is replaced atomically (write a temporary file, then rename over it).

Every load recomputes the SHA-256 of the weights (and reference) file and of the metadata and
compares them with the recorded ones: a corrupted or edited file is refused with an
:class:`IntegrityError` naming the file and both hashes.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from tinytorch.core.activations import LogSoftmax, Softmax
from tinytorch.core.training import CheckpointError, load_checkpoint, save_checkpoint

from .hashing import IntegrityError, fingerprint_data, sha256_file
from .spec import model_from_spec, model_to_spec

__all__ = ["ModelRegistry", "ModelVersion", "RegistryError", "IntegrityError", "default_root",
           "METADATA_FORMAT"]

METADATA_FORMAT = 1
WEIGHTS_FILE = "model.npz"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.npz"
STAGES_FILE = "stages.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_STAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,49}$")
_VERSION_DIR = re.compile(r"^v([0-9]+)$")


class RegistryError(LookupError):
    """A model, version or stage that does not exist, or an operation that cannot be done."""


def default_root() -> str:
    """``$TINYTORCH_REGISTRY``, else ``runs/registry`` (beside ``tito train``'s ``runs/cifar10``)."""
    return os.environ.get("TINYTORCH_REGISTRY") or os.path.join("runs", "registry")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _metadata_hash(metadata: dict) -> str:
    import hashlib
    body = {k: v for k, v in metadata.items() if k != "metadata_sha256"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _write_json_atomic(path: str, obj: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, sort_keys=True, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _clean_metrics(name: str, metrics: dict | None) -> dict:
    """Numbers as floats; anything JSON cannot hold (NaN, objects) refused by name."""
    out = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(f"register({name!r}): metric {key!r} is {value}; metrics must "
                                 "be finite numbers (or strings)")
        elif not (value is None or isinstance(value, (str, bool))):
            raise TypeError(f"register({name!r}): metric {key!r} is a {type(value).__name__}; "
                            "metrics must be numbers, strings, booleans or None")
        out[str(key)] = value
    return out


def _output_kind(model: Any) -> str:
    """What the model's last layer returns: probabilities, log-probabilities or logits."""
    last = model
    while getattr(last, "_modules", None) and hasattr(last, "__getitem__"):
        last = last[-1]
    if isinstance(last, Softmax):
        return "probabilities"
    if isinstance(last, LogSoftmax):
        return "log_probabilities"
    return "logits"


def _infer_input_shape(model: Any) -> tuple | None:
    """The per-sample input shape when the first layer fixes it (a Dense: (in_features,))."""
    first = model
    while getattr(first, "_modules", None) and hasattr(first, "__getitem__"):
        first = first[0]
    in_features = getattr(first, "in_features", None)
    return (int(in_features),) if isinstance(in_features, int) else None


def _library_versions() -> dict:
    from importlib import metadata as md
    out = {}
    for dist in md.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("tinytorch") or name == "numpy":
            out[name] = dist.version
    return dict(sorted(out.items()))


@dataclass
class ModelVersion:
    """One registered version: its folder and its (verified) metadata."""

    name: str
    version: int
    path: str
    metadata: dict = field(repr=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dir(cls, path: str | os.PathLike, verify: bool = True) -> "ModelVersion":
        """Open a version folder (e.g. ``runs/registry/cifar-cnn/v3``) directly."""
        path = os.fspath(path)
        meta_path = os.path.join(path, METADATA_FILE)
        if not os.path.isfile(meta_path):
            raise RegistryError(f"{path} is not a registered model version (no {METADATA_FILE})")
        try:
            with open(meta_path, encoding="utf-8") as f:
                metadata = json.load(f)
        except (OSError, ValueError) as err:
            raise IntegrityError(f"{meta_path}: cannot read the metadata ({err})") from None
        if not isinstance(metadata, dict) or metadata.get("format") != METADATA_FORMAT:
            found = (metadata.get("format") if isinstance(metadata, dict)
                     else type(metadata).__name__)
            raise RegistryError(f"{meta_path}: unsupported metadata format {found!r} "
                                f"(this version reads format {METADATA_FORMAT})")
        number = metadata.get("version")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise RegistryError(f"{meta_path}: field 'version' is {json.dumps(number)}, not a "
                                "version number (1, 2, ...); the file is damaged: register the "
                                "model again")
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{meta_path}: field 'name' is {json.dumps(name)}, not a model "
                                "name; the file is damaged: register the model again")
        version = cls(name, number, path, metadata)
        if verify:
            version.verify()
        return version

    def verify(self) -> None:
        """Recompute every recorded hash; :class:`IntegrityError` on the first mismatch."""
        recorded = self.metadata.get("metadata_sha256")
        actual = _metadata_hash(self.metadata)
        if recorded != actual:
            raise IntegrityError(
                f"{os.path.join(self.path, METADATA_FILE)} was modified after it was registered: "
                f"recorded sha256 {recorded}, actual {actual}")
        for role, entry in sorted(self.metadata.get("files", {}).items()):
            file_path = os.path.join(self.path, entry["path"])
            if not os.path.isfile(file_path):
                raise IntegrityError(f"{file_path} ({role} of {self.name} v{self.version}) is "
                                     "missing")
            actual = sha256_file(file_path)
            if actual != entry["sha256"]:
                raise IntegrityError(
                    f"{file_path} ({role} of {self.name} v{self.version}) is corrupt or was "
                    f"tampered with: recorded sha256 {entry['sha256']}, actual {actual}")

    # ------------------------------------------------------------------ what it holds
    @property
    def metrics(self) -> dict:
        """The metrics recorded at registration (e.g. ``{"test_accuracy": 0.71}``)."""
        return dict(self.metadata.get("metrics") or {})

    @property
    def input_shape(self) -> tuple | None:
        """Shape of one input sample (without the batch axis), if known."""
        shape = self.metadata.get("input_shape")
        return None if shape is None else tuple(shape)

    @property
    def classes(self) -> list | None:
        """Class names, if given at registration."""
        return self.metadata.get("classes")

    @property
    def weights_path(self) -> str:
        """The weights file."""
        return os.path.join(self.path, self.metadata["files"]["weights"]["path"])

    def load_model(self, verify: bool = True) -> Any:
        """Rebuild the model from its spec, load the weights, switch it to eval mode."""
        if verify:
            self.verify()
        model = model_from_spec(self.metadata["architecture"])
        try:
            state = load_checkpoint(self.weights_path)
        except CheckpointError as err:
            raise IntegrityError(f"{self.weights_path}: {err}") from None
        model.load_state_dict(state["state_dict"])
        return model.eval()

    def reference(self) -> dict | None:
        """The monitoring reference saved at registration (``inputs``: summary features of the
        training inputs, ``probabilities``: the model's outputs on them), or None."""
        entry = self.metadata.get("files", {}).get("reference")
        if entry is None:
            return None
        with np.load(os.path.join(self.path, entry["path"]), allow_pickle=False) as data:
            out: dict[str, Any] = {k: np.array(data[k]) for k in data.files}
        out["feature_names"] = list(self.metadata.get("reference", {}).get("feature_names", []))
        return out


class ModelRegistry:
    """Versioned models in a folder (default :func:`default_root`).

    Args:
        root: the registry folder (created on first write).
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = os.fspath(root) if root is not None else default_root()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ModelRegistry({self.root!r})"

    # ------------------------------------------------------------------ names and paths
    def _model_dir(self, name: str) -> str:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"model name {name!r} is not allowed: use letters, digits, '.', '_' "
                             "and '-' (starting with a letter or digit, at most 100)")
        return os.path.join(self.root, name)

    def models(self) -> list[str]:
        """Names of the registered models."""
        if not os.path.isdir(self.root):
            return []
        return sorted(n for n in os.listdir(self.root)
                      if _NAME.match(n) and self.versions(n))

    def versions(self, name: str) -> list[int]:
        """Version numbers of ``name``, ascending (empty if it has none)."""
        directory = self._model_dir(name)
        if not os.path.isdir(directory):
            return []
        found = (_VERSION_DIR.match(n) for n in os.listdir(directory))
        return sorted(int(m.group(1)) for m in found if m)

    # ------------------------------------------------------------------ writing
    def register(self, name: str, model: Any, metrics: dict | None = None, data: Any = None, *,
                 input_shape: tuple | list | None = None, classes: list | None = None,
                 description: str = "", reference_size: int = 1000,
                 seed: int = 0) -> ModelVersion:
        """Store ``model`` as the next version of ``name``; returns that version.

        Args:
            name: the model's name in the registry.
            model: a Sequential CNN or MLP (see :mod:`tinytorch.core.mlops.spec`).
            metrics: numbers to keep with it (accuracy, loss...).
            data: the training data — an array of inputs, or ``(inputs, labels)``. Its
                fingerprint is recorded, the per-sample input shape is read from it, and a
                sample of ``reference_size`` inputs (with the model's outputs on them) is kept
                as the reference for drift monitoring.
            input_shape: shape of one input sample; needed when ``data`` is not given and the
                first layer does not fix it (a CNN).
            classes: class names, in output order.
            description: free text.
            reference_size: how many training inputs the monitoring reference keeps (0: none).
            seed: which inputs are sampled for the reference.
        """
        directory = self._model_dir(name)
        metrics = _clean_metrics(name, metrics)
        spec = model_to_spec(model)  # refuse an unsupported model before writing anything
        inputs = None
        if data is not None:
            inputs = data[0] if isinstance(data, (tuple, list)) else data
            inputs = np.asarray(getattr(inputs, "data", inputs))
        if input_shape is None:
            input_shape = (tuple(inputs.shape[1:]) if inputs is not None
                           else _infer_input_shape(model))
        if input_shape is None:
            raise ValueError(f"register({name!r}): cannot tell the input shape of this model; pass "
                             "data=(inputs, labels) or input_shape=(C, H, W)")
        input_shape = tuple(int(n) for n in input_shape)
        if inputs is not None and tuple(inputs.shape[1:]) != input_shape:
            raise ValueError(f"register({name!r}): input_shape {input_shape} does not match the "
                             f"data's samples of shape {tuple(inputs.shape[1:])}")
        os.makedirs(directory, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=directory)
        try:
            metadata: dict = {
                "format": METADATA_FORMAT, "name": name, "created": _now(),
                "architecture": spec, "input_shape": list(input_shape),
                "output": _output_kind(model), "classes": list(classes) if classes else None,
                "metrics": metrics, "description": description,
                "data": None, "files": {}, "libraries": _library_versions(),
            }
            weights = save_checkpoint(os.path.join(tmp, WEIGHTS_FILE),
                                      {"state_dict": model.state_dict()})
            metadata["files"]["weights"] = {"path": WEIGHTS_FILE, "sha256": sha256_file(weights)}
            if inputs is not None:  # data was given
                metadata["data"] = {"fingerprint": fingerprint_data(data),
                                    "samples": int(len(inputs))}
                if reference_size > 0:
                    self._write_reference(tmp, metadata, model, inputs, reference_size, seed)
            return self._commit(name, directory, tmp, metadata)
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _write_reference(tmp: str, metadata: dict, model: Any, inputs: np.ndarray,
                         size: int, seed: int) -> None:
        from .drift import summarize_features
        from .predictor import Predictor
        rng = np.random.default_rng(seed)
        take = np.sort(rng.choice(len(inputs), size=min(size, len(inputs)), replace=False))
        sample = np.asarray(inputs[take], dtype=np.float32)
        features, names = summarize_features(sample)
        was_training = getattr(model, "training", False)
        _, probabilities = Predictor(model, metadata["output"]).predict(sample)
        if was_training:
            model.train()
        path = os.path.join(tmp, REFERENCE_FILE)
        with open(path, "wb") as f:
            np.savez(f, inputs=features.astype(np.float32),
                     probabilities=probabilities.astype(np.float32))
            f.flush()
            os.fsync(f.fileno())
        metadata["files"]["reference"] = {"path": REFERENCE_FILE, "sha256": sha256_file(path)}
        metadata["reference"] = {"samples": int(len(take)), "feature_names": names}

    def _commit(self, name: str, directory: str, tmp: str, metadata: dict) -> ModelVersion:
        """Number the version and rename its folder into place; retry if another writer won."""
        for _ in range(1000):
            existing = self.versions(name)
            version = (existing[-1] if existing else 0) + 1
            metadata["version"] = version
            metadata["metadata_sha256"] = _metadata_hash(metadata)
            _write_json_atomic(os.path.join(tmp, METADATA_FILE), metadata)
            target = os.path.join(directory, f"v{version}")
            try:
                os.rename(tmp, target)  # atomic; fails if another process took this number
            except OSError:
                if os.path.exists(target):
                    continue
                raise
            _fsync_dir(directory)
            return ModelVersion(name, version, target, metadata)
        raise RegistryError(f"could not allocate a version number for {name!r}")  # pragma: no cover

    # ------------------------------------------------------------------ reading
    def get(self, name: str, ref: int | str = "latest", verify: bool = True) -> ModelVersion:
        """The version ``ref`` of ``name``: a number, ``"latest"``, or a stage name."""
        version = self.resolve_version(name, ref)
        return ModelVersion.from_dir(os.path.join(self._model_dir(name), f"v{version}"), verify)

    def load(self, name: str, ref: int | str = "latest") -> Any:
        """The model of version ``ref`` (number, ``"latest"`` or stage), verified, in eval mode."""
        return self.get(name, ref).load_model(verify=False)  # get() verified it

    def resolve_version(self, name: str, ref: int | str = "latest") -> int:
        """The version number ``ref`` stands for."""
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.models()) or "none"
            raise RegistryError(f"no model named {name!r} in registry {self.root} "
                                f"(models: {known})")
        if isinstance(ref, str) and ref.lstrip("v").isdigit():
            ref = int(ref.lstrip("v"))
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
            if int(ref) not in versions:
                raise RegistryError(f"{name!r} has no version {ref} (versions: {versions})")
            return int(ref)
        if ref == "latest":
            return versions[-1]
        if isinstance(ref, str):
            current = self.stage_version(name, ref)
            if current is None:
                stages = sorted(s for s, h in self._read_stages(name).items() if h)
                raise RegistryError(f"{name!r} has no version in stage {ref!r} (stages in use: "
                                    f"{stages or 'none'}; or give a version number or 'latest')")
            return current
        raise TypeError(f"version must be an int, 'latest' or a stage name, got {ref!r}")

    # ------------------------------------------------------------------ stages
    def _stages_path(self, name: str) -> str:
        return os.path.join(self._model_dir(name), STAGES_FILE)

    def _read_stages(self, name: str) -> dict:
        path = self._stages_path(name)
        if not os.path.exists(path):
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            return {str(k): list(v) for k, v in data["stages"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise RegistryError(f"{path}: cannot read the stages file ({err!r})") from None

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """One writer of ``stages.json`` at a time: in this process, and across processes
        where ``fcntl`` exists."""
        os.makedirs(self._model_dir(name), exist_ok=True)
        with self._lock:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not on POSIX
                yield
                return
            with open(os.path.join(self._model_dir(name), ".lock"), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def stages(self, name: str) -> dict[str, int]:
        """Each stage in use and the version it holds, e.g. ``{"production": 3}``."""
        return {s: h[-1]["version"] for s, h in sorted(self._read_stages(name).items()) if h}

    def stage_version(self, name: str, stage: str) -> int | None:
        """The version in ``stage``, or None."""
        history = self._read_stages(name).get(stage) or []
        return history[-1]["version"] if history else None

    def stage_history(self, name: str, stage: str) -> list[int]:
        """The versions ``stage`` has held, oldest first (the last is the current one)."""
        return [h["version"] for h in self._read_stages(name).get(stage) or []]

    def promote(self, name: str, version: int | str, stage: str) -> int:
        """Put ``version`` (a number, ``"latest"`` or another stage) in ``stage``; returns it.

        The version is verified first: a corrupt model is never promoted."""
        if not isinstance(stage, str) or not _STAGE.match(stage) or stage == "latest":
            raise ValueError(f"stage name {stage!r} is not allowed (letters, digits, '_', '-', "
                             "starting with a letter; not 'latest')")
        number = self.resolve_version(name, version)
        self.get(name, number)  # verify before promoting
        with self._locked(name):
            stages = self._read_stages(name)
            history = stages.setdefault(stage, [])
            if not history or history[-1]["version"] != number:
                history.append({"version": number, "at": _now()})
                _write_json_atomic(self._stages_path(name), {"format": 1, "stages": stages})
        return number

    def rollback(self, name: str, stage: str) -> int:
        """Put back the version ``stage`` held before the current one; returns it."""
        with self._locked(name):
            stages = self._read_stages(name)
            history = stages.get(stage) or []
            if len(history) < 2:
                held = f"only v{history[0]['version']}" if history else "nothing"
                raise RegistryError(f"cannot roll back {name!r} {stage}: it has held {held}, "
                                    "there is no earlier version to go back to")
            history.pop()
            _write_json_atomic(self._stages_path(name), {"format": 1, "stages": stages})
            return history[-1]["version"]


def _fsync_dir(directory: str) -> None:
    """Make a rename inside ``directory`` durable (POSIX; a no-op where it is not possible)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
