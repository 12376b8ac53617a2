"""The two small datasets shipped inside this package, each checked against its SHA-256.

* ``digits.csv.gz`` — the 8×8 handwritten digits (E. Alpaydin and C. Kaynak, UCI Machine
  Learning Repository, "Optical Recognition of Handwritten Digits", CC BY 4.0): 1,797 images,
  64 pixels of 0..16 then the label per line; the same file scikit-learn ships.
* ``tinyshakespeare.txt.xz`` — Shakespeare's plays (public domain), 1,115,394 characters.

A file that is missing or does not match its checksum raises :class:`MilestoneError` with
what to do, instead of training on something else.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
from pathlib import Path

import numpy as np

from .registry import MilestoneError

__all__ = ["DATA_DIR", "SHA256", "verified_bytes", "load_digits", "load_shakespeare"]

DATA_DIR = Path(__file__).resolve().parent / "data"

SHA256 = {
    "digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "tinyshakespeare.txt.xz": "d2476529549e2da7ec5dd2530f028856808ec42fec335c232268c9c6af463bc6",
}


def verified_bytes(name: str, folder: Path | None = None) -> bytes:
    """The bytes of a shipped data file, after checking its SHA-256."""
    path = (folder or DATA_DIR) / name
    try:
        raw = path.read_bytes()
    except OSError:
        raise MilestoneError(f"{path} is missing: reinstall tinytorch-capstone "
                             "(pip install --force-reinstall tinytorch-capstone)") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[name]:
        raise MilestoneError(f"{path} is damaged (sha256 {digest[:12]}…, expected "
                             f"{SHA256[name][:12]}…): reinstall tinytorch-capstone")
    return raw


def load_digits(folder: Path | None = None) -> tuple:
    """``(images, labels)``: float32 (1797, 64) pixels scaled to [0, 1], int64 (1797,) labels."""
    raw = gzip.decompress(verified_bytes("digits.csv.gz", folder))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.float32)
    return table[:, :64] / np.float32(16.0), table[:, 64].astype(np.int64)


def load_shakespeare(folder: Path | None = None) -> str:
    """Shakespeare's plays as one string."""
    return lzma.decompress(verified_bytes("tinyshakespeare.txt.xz", folder)).decode("utf-8")
