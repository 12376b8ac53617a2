#!/usr/bin/env bash
# Every test of the repository: exactly what CI runs (.ci/run runs this).
#   1. tools: tox and uv (and numpy + Pillow for the data) in .ci/.venv — nothing else is assumed;
#   2. CIFAR-10 prepared once in $TINYTORCH_DATA (default ~/.cache/tinytorch);
#   3. tox, in parallel: `build` (every wheel and sdist, checked against the contract), one env
#      per package (its wheel installed alone, its shipped tests), `docs` (mkdocs --strict),
#      `integration` (all wheels + torch, CIFAR-10, integration/), `stubs` (students' versions),
#      `minversions` (each package's tests at the lowest versions its ranges allow) and `release`
#      (twine check, sdist -> same wheel, each wheel alone in a fresh venv: .ci/ttools/release.py),
#      `getting-started` (the README's setup command, .ci/setup.sh, in its quick form);
#   4. a summary: tests per env, tox's per-env timings, and the stage timings.
# Extra arguments go to tox (e.g. `bash .ci/test.sh -e build,tensor`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$repo_dir"

stage "tools (.ci/.venv: tox, uv)"
make_venv .ci/.venv
tools=("tox>=4.20,<5" numpy Pillow)
if .ci/.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.4" && [ -x .ci/.venv/bin/uv ]; then
    .ci/.venv/bin/uv pip install --quiet --python .ci/.venv/bin/python "${tools[@]}"
else
    .ci/.venv/bin/python -m pip install --quiet --disable-pip-version-check "${tools[@]}"
fi
.ci/.venv/bin/tox --version

stage "CIFAR-10 in $TINYTORCH_DATA"
.ci/.venv/bin/python .ci/tt.py cifar10

stage "tox (parallel)"
rm -rf .tox/junit .tox/result.json
echo "environments: build,docs,integration,lessons,minversions,$(.ci/.venv/bin/python .ci/tt.py envs),release,getting-started"
status=0
# No env output unless it fails; a failing env's full output is printed by tox.
.ci/tox p -p "${TINYTORCH_TOX_PARALLEL:-2}" --parallel-no-spinner --result-json .tox/result.json "$@" || status=$?

stage "summary"
# With no arguments every env ran: no test at all, or a failed one, fails the run.
summary=0
.ci/.venv/bin/python .ci/tt.py summary .tox/junit --result-json .tox/result.json || summary=$?
[ $# -eq 0 ] && [ "$status" -eq 0 ] && status=$summary
stage_report
if [ "$status" -ne 0 ]; then
    echo "FAILED (exit $status)"
fi
exit "$status"
