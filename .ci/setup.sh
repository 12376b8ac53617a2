#!/usr/bin/env bash
# Set up a machine for TinyTorch, then run the main job:
#   - .venv/ in the repository, with every package under packages/ installed editable (with its
#     test extra), so edits to the sources take effect at once;
#   - CIFAR-10 in $TINYTORCH_DATA (default ~/.cache/tinytorch): made from ../shared/data/cifar10
#     when that exists (these course machines cannot reach the official host; $TINYTORCH_SHARED
#     names another shared folder), then every file checked once (`tito data verify`: sizes and
#     md5s recorded in the folder's .tinytorch-manifest.json; a damaged copy is made again);
#     with no local copy the main job gets --download and fetches the official archive
#     (md5-checked) — without a network it ends with one line saying what to do;
#   - then MAIN_JOB, run inside .venv.
# Safe to run again: it reuses what is there.
#
# Two variables, for CI (tox env `getting-started`) rather than for people:
#   TINYTORCH_SETUP_QUICK=1   every step as above, but the main job's quick form (MAIN_JOB_QUICK);
#   TINYTORCH_VENV=DIR        the virtual environment to create instead of .venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$repo_dir"

# The project's main job: train a CNN on the real CIFAR-10 with TinyTorch (the quick recipe:
# a few minutes; `tito train cifar10 --recipe full` for the long one: 90.20% measured in 79 min), with a progress bar,
# ending with the measured test accuracy and where the checkpoint and the plot went.
MAIN_JOB=(tito train cifar10)
# TINYTORCH_SETUP_QUICK=1 (CI) runs this instead: the same command on the same prepared data,
# one epoch on 512 training and 512 test images (seconds), into runs/cifar10-quick.
MAIN_JOB_QUICK=(tito train cifar10 --epochs 1 --limit-train 512 --limit-test 512 --no-progress
                --out runs/cifar10-quick)
if [ "${TINYTORCH_SETUP_QUICK:-0}" = 1 ]; then
    MAIN_JOB=("${MAIN_JOB_QUICK[@]}")
fi
venv="${TINYTORCH_VENV:-.venv}"

stage "virtual environment ($venv)"
make_venv "$venv"
py="$venv/bin/python"

stage "install every package (editable)"
mapfile -t folders < <("$py" .ci/tt.py packages --folders)
specs=()
for f in "${folders[@]}"; do
    if [ "$f" = tinytorch ]; then specs+=(-e "packages/$f"); else specs+=(-e "packages/$f[test]"); fi
done
# Pillow makes the CIFAR-10 batches; hatchling lets the contract test build wheels directly.
# uv does the same install as pip in a fraction of the time (it caches the build backend
# instead of setting up an isolated build environment per package); pip if uv cannot be had.
extra=(Pillow "hatchling>=1.27" matplotlib)
if "$py" -m pip install --quiet --disable-pip-version-check "uv>=0.4" && [ -x "$venv/bin/uv" ]; then
    "$venv/bin/uv" pip install --quiet --python "$py" "${specs[@]}" "${extra[@]}"
else
    "$py" -m pip install --quiet --disable-pip-version-check "${specs[@]}" "${extra[@]}"
fi
echo "installed: ${folders[*]}"

stage "CIFAR-10 in $TINYTORCH_DATA"
"$py" .ci/tt.py cifar10
cifar_dir="$TINYTORCH_DATA/cifar-10-batches-py"
have_cifar() {
    local f
    for f in batches.meta data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
        [ -f "$cifar_dir/$f" ] || return 1
    done
}
data_cli=("$py" -m tinytorch.core.dataloader.cli)
if ! have_cifar; then
    echo "no local CIFAR-10 copy: the main job downloads the official archive (--download)"
    MAIN_JOB+=(--download)
elif "$py" -c "import tinytorch.core.dataloader.cli" 2>/dev/null; then
    # Check every file once; the sizes and md5s go into the folder's manifest, against which
    # each later load is checked. A damaged copy made from ../shared is simply made again.
    if ! "${data_cli[@]}" verify cifar10; then
        shared_script="${TINYTORCH_SHARED:-$repo_dir/../shared}/data/cifar10/make_cifar10.py"
        if [ -f "$shared_script" ]; then
            echo "making CIFAR-10 again from $(dirname "$shared_script")"
            rm -rf "$cifar_dir"
            "$py" .ci/tt.py cifar10
            "${data_cli[@]}" verify cifar10
        else
            "${data_cli[@]}" fetch cifar10
        fi
    fi
fi

stage "main job: ${MAIN_JOB[*]}"
if [ -x "$venv/bin/${MAIN_JOB[0]}" ]; then
    status=0
    PATH="$(cd "$venv" && pwd)/bin:$PATH" "${MAIN_JOB[@]}" || status=$?
    if [ "$status" != 0 ]; then
        if ! have_cifar; then
            echo "setup: no CIFAR-10 in $TINYTORCH_DATA and it could not be downloaded (see above):" \
                 "put cifar-10-python.tar.gz (or a cifar-10-batches-py/ folder) there, or the course's" \
                 "shared/data/cifar10/ beside the repository, then run bash .ci/setup.sh again" >&2
        else
            echo "setup: the main job failed (exit status $status): its message is above" >&2
        fi
        exit "$status"
    fi
else
    echo "'${MAIN_JOB[0]}' is not installed yet (its package has not landed in packages/); nothing more to run."
fi

stage_report
cat <<EOF

Ready. Use it with:
    source $venv/bin/activate
    export TINYTORCH_DATA=$TINYTORCH_DATA
EOF
