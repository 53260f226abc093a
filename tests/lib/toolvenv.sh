# shellcheck shell=bash
# Venvs for tools that must not share the main venv (its ansible-core pin), cached under ~/.cache and keyed by what
# built them: the requirements file's content and the interpreter's version. A changed pin makes a new venv; the
# old one stays until removed by hand (rm -rf ~/.cache/mailops-live-smtp/tools).
#   tool_venv NAME REQUIREMENTS_FILE [PYTHON]   prints the venv's directory (creates and fills it when missing)
#   pyenv_python X.Y                            prints the newest pyenv interpreter X.Y.* (1 when there is none)

TOOL_VENV_ROOT=${LIVE_SMTP_TOOL_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/mailops-live-smtp/tools}

pyenv_python() {
  local root candidate best=""
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "$root"/versions/"$1".*/bin/python"$1"; do
    [ -x "$candidate" ] && best=$candidate
  done
  [ -n "$best" ] || { echo "pyenv_python: no Python $1 under $root/versions (pyenv install $1)" >&2; return 1; }
  echo "$best"
}

# pip into a venv; its output goes to stderr without the machine-wide config's notes about absent local mirrors.
_tool_pip() {
  local dir=$1
  shift
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2) >&2
}

tool_venv() {
  local name=$1 req=$2 python=${3:-python3} version key dir
  version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || return 1
  key=$( { echo "$version"; cat "$req"; } | sha256sum | cut -c1-12)
  dir="$TOOL_VENV_ROOT/$name-py$version-$key"
  if [ ! -f "$dir/.complete" ]; then
    echo "tool_venv: creating $dir from $req" >&2
    rm -rf "$dir"
    mkdir -p "$TOOL_VENV_ROOT"
    "$python" -m venv "$dir" >&2 || return 1
    _tool_pip "$dir" --upgrade pip || return 1
    _tool_pip "$dir" -r "$req" || return 1
    cp "$req" "$dir/.complete"
  fi
  echo "$dir"
}
