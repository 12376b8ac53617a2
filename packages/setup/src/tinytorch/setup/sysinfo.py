"""Facts about the machine ``tito system info`` prints and ``tito system doctor`` checks.

numpy is not a dependency of ``tinytorch-setup``; everything here works (and says so) when it
is missing. The BLAS library is read from ``numpy.show_config`` and its thread count from the
loaded library itself (found in ``/proc/self/maps`` on Linux, queried through ``ctypes``), so no
extra package such as threadpoolctl is needed.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BLAS_THREAD_VARIABLES",
    "BlasInfo",
    "SystemInfo",
    "blas_info",
    "collect",
    "cpu_count",
    "data_dir",
]

#: Environment variables that set the number of BLAS / OpenMP threads.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS")

_THREAD_SYMBOLS = (
    "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_", "openblas_get_num_threads", "MKL_Get_Max_Threads",
    "bli_thread_get_num_threads",
)


@dataclass(frozen=True)
class BlasInfo:
    """The BLAS numpy uses.

    Attributes:
        name: e.g. ``scipy-openblas``, or ``unknown``.
        version: Its version, if numpy reports one.
        config: The library's build configuration line, if reported.
        library: Path of the loaded shared library, if found.
        threads: The thread count the library reports, if it could be asked.
    """

    name: str
    version: str = ""
    config: str = ""
    library: str = ""
    threads: int | None = None


@dataclass(frozen=True)
class SystemInfo:
    """Everything ``tito system info`` shows, except the installed distributions."""

    python: str
    executable: str
    platform: str
    cores: int
    numpy_version: str | None
    numpy_error: str = ""
    blas: BlasInfo | None = None
    thread_env: dict[str, str] = field(default_factory=dict)


def cpu_count() -> int:
    """Cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def data_dir() -> Path:
    """The data cache: ``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``."""
    value = os.environ.get("TINYTORCH_DATA")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "tinytorch"


def _loaded_libraries() -> list[str]:
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    paths = []
    for line in maps.read_text(errors="replace").splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/") and ".so" in parts[5]:
            paths.append(parts[5].strip())
    return list(dict.fromkeys(paths))


def _blas_threads() -> tuple[str, int | None]:
    """The loaded BLAS library and its thread count, found by symbol name."""
    for lib in _loaded_libraries():
        name = Path(lib).name.lower()
        if not any(key in name for key in ("openblas", "mkl_rt", "blis")):
            continue
        try:
            handle = ctypes.CDLL(lib, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        for symbol in _THREAD_SYMBOLS:
            func = getattr(handle, symbol, None)
            if func is not None:
                func.restype = ctypes.c_int
                return lib, int(func())
        return lib, None
    return "", None


def blas_info(numpy_module: object) -> BlasInfo:
    """Describe the BLAS of an imported numpy (``numpy.show_config(mode="dicts")``)."""
    name, version, config = "unknown", "", ""
    show = getattr(numpy_module, "show_config", None)
    try:
        deps = show(mode="dicts").get("Build Dependencies", {}) if show else {}
        blas = deps.get("blas", {})
        name = str(blas.get("name", name))
        version = str(blas.get("version", ""))
        config = str(blas.get("openblas configuration", "")).strip()
    except (TypeError, ValueError, AttributeError):  # numpy < 1.26 has no mode="dicts"
        pass
    library, threads = _blas_threads()
    return BlasInfo(name, version, config, library, threads)


def collect() -> SystemInfo:
    """Gather the facts (imports numpy if it is installed)."""
    numpy_version: str | None = None
    numpy_error = ""
    blas: BlasInfo | None = None
    try:
        import numpy

        numpy_version = numpy.__version__
        blas = blas_info(numpy)
    except Exception as exc:  # noqa: BLE001 - any import failure is worth reporting
        numpy_error = f"{type(exc).__name__}: {exc}"
    env = {k: os.environ[k] for k in BLAS_THREAD_VARIABLES if k in os.environ}
    return SystemInfo(
        python=platform.python_version(),
        executable=sys.executable,
        platform=platform.platform(),
        cores=cpu_count(),
        numpy_version=numpy_version,
        numpy_error=numpy_error,
        blas=blas,
        thread_env=env,
    )
