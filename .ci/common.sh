# Shared by .ci/setup.sh and .ci/test.sh (sourced, not run).

ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(dirname "$ci_dir")"

# Stage timings: `stage NAME` starts one, `stage_end` prints its time, `stage_report` all of them.
_stage_names=(); _stage_secs=(); _stage_name=""; _stage_t0=0
stage() {
    [ -n "$_stage_name" ] && stage_end
    _stage_name="$1"; _stage_t0=$(date +%s)
    printf '\n=== %s ===\n' "$1"
}
stage_end() {
    local dt=$(( $(date +%s) - _stage_t0 ))
    _stage_names+=("$_stage_name"); _stage_secs+=("$dt")
    printf '=== %s: %ss ===\n' "$_stage_name" "$dt"
    _stage_name=""
}
stage_report() {
    [ -n "$_stage_name" ] && stage_end
    local i total=0
    printf '\nstage timings (seconds):\n'
    for i in "${!_stage_names[@]}"; do
        printf '  %-34s %6s\n' "${_stage_names[$i]}" "${_stage_secs[$i]}"
        total=$(( total + _stage_secs[i] ))
    done
    printf '  %-34s %6s\n' "total" "$total"
}

# A Python >= 3.10 to build virtual environments with ($PYTHON wins).
find_python() {
    local c
    for c in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10 python; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
            command -v "$c"; return 0
        fi
    done
    echo "error: TinyTorch needs Python 3.10 or newer (set PYTHON=/path/to/python3)" >&2
    return 1
}

# make_venv DIR: a virtual environment with pip. If the venv module is missing (Debian's
# python3 without python3-venv), install that package when we are root, else say what to do.
make_venv() {
    local dir="$1" py
    py="$(find_python)" || return 1
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$dir"
    if ! "$py" -m venv "$dir" >/dev/null 2>&1; then
        rm -rf "$dir"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            local ver; ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
            echo "python's venv module is missing: installing python${ver}-venv with apt-get"
            apt-get update -qq && { apt-get install -y -qq "python${ver}-venv" || apt-get install -y -qq python3-venv; }
            "$py" -m venv "$dir"
        else
            echo "error: '$py -m venv' does not work here; install your distribution's python3-venv" >&2
            return 1
        fi
    fi
}

# uv (used for speed where pip would do the same) trusts the system's certificate store, as pip
# does: some networks re-sign TLS with a local CA that only the system store knows.
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"

# The CIFAR-10 cache: $TINYTORCH_DATA, default ~/.cache/tinytorch (the framework's default too).
export TINYTORCH_DATA="${TINYTORCH_DATA:-${HOME:-/tmp}/.cache/tinytorch}"
