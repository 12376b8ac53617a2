"""``tito serve`` / ``tito registry`` invoked wrongly: one line naming the bad value, exit 2.

Each row runs through the plugin's own parser (:func:`tinytorch.core.mlops.cli.main`, what
``python -m tinytorch.core.mlops`` runs); an exception escaping it fails the row. The same rows,
through ``tito`` with every wheel installed, are in ``integration/test_cli_no_tracebacks.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinytorch.core.mlops.cli import main
from tinytorch.core.mlops.registry import METADATA_FILE, METADATA_FORMAT, ModelVersion, RegistryError


@pytest.fixture
def reg(tmp_path: Path) -> Path:
    """A registry holding ``m`` v1 whose metadata says ``"version": null`` and ``ok`` v1."""
    for name, version in (("m", None), ("ok", 1)):
        folder = tmp_path / "reg" / name / "v1"
        folder.mkdir(parents=True)
        meta = {"format": METADATA_FORMAT, "name": name, "version": version, "files": {}}
        (folder / METADATA_FILE).write_text(json.dumps(meta))
    (tmp_path / "notes.txt").write_text("not a registry\n")
    return tmp_path


ROWS = [
    ("port-too-big", "serve ok --port 99999 --registry {tmp}/reg", "99999"),
    ("port-negative", "serve ok --port -1 --registry {tmp}/reg", "-1"),
    ("port-text", "serve ok --port http --registry {tmp}/reg", "http"),
    ("serve-version-null", "serve m:1 --registry {tmp}/reg --engine stdlib", "'version' is null"),
    ("serve-version-folder-null", "serve {tmp}/reg/m/v1 --engine stdlib", "'version' is null"),
    ("show-version-null", "registry show m:1 --registry {tmp}/reg", "'version' is null"),
    ("list-missing", "registry list --registry {tmp}/nonexistent", "nonexistent does not exist"),
    ("list-file", "registry list --registry {tmp}/notes.txt", "notes.txt is not a folder"),
    ("promote-missing", "registry promote ok 1 production --registry {tmp}/nope", "nope"),
    ("show-unknown", "registry show nosuch --registry {tmp}/reg", "nosuch"),
]


@pytest.mark.parametrize("cmd,names", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_invocation_is_one_line_exit_2(reg: Path, cmd: str, names: str, capsys):
    argv = cmd.replace("{tmp}", str(reg)).split()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert names in err, err
    # argparse's own errors come after the usage text; the message itself is one line
    message = [line for line in err.splitlines()
               if line.strip() and not line.startswith(("usage:", " "))]
    assert len(message) == 1, err


def test_null_version_names_the_file_and_field(reg: Path):
    with pytest.raises(RegistryError) as info:
        ModelVersion.from_dir(reg / "reg" / "m" / "v1")
    assert str(reg / "reg" / "m" / "v1" / METADATA_FILE) in str(info.value)
    assert "field 'version' is null" in str(info.value)


def test_a_good_port_is_accepted():
    from tinytorch.core.mlops.cli import _port

    assert [_port("0"), _port("8000"), _port("65535")] == [0, 8000, 65535]
