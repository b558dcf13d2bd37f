#!/usr/bin/env bash
# Make (or refresh) the virtualenv .venv/ beside this file and install vpnctl into it with every
# dependency at the exact, hash-checked version in requirements/test.lock. Debian 12 and
# Ubuntu 23.04+ forbid pip on the system Python (PEP 668), so vpnctl always lives in a venv.
#
#   bash install.sh            locked versions (what CI and the Quick start use)
#   bash install.sh --latest   the newest versions pyproject.toml allows (to try new releases)
#
# VPNCTL_VENV=DIR puts the virtualenv elsewhere. Needs Python 3.11 or newer.
set -euo pipefail
cd "$(dirname "$0")"
venv=${VPNCTL_VENV:-.venv}
python=${PYTHON:-python3}

say() { printf 'install.sh: %s\n' "$*" >&2; }

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "vpnctl needs Python 3.11 or newer; $python is $("$python" -V 2>&1)"
  exit 1
fi

# Debian and Ubuntu ship `python3 -m venv` without ensurepip until python3-venv is installed.
if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip' 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing python3-venv (the system Python lacks ensurepip)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
  else
    say "the system Python cannot make a virtualenv: install its venv module (python3-venv)"
    exit 1
  fi
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

if [ "${1:-}" = "--latest" ]; then
  "${pip[@]}" install --upgrade pip
  "${pip[@]}" install --upgrade --upgrade-strategy eager '.[test,sandbox]'
else
  "${pip[@]}" install --require-hashes --no-deps -r requirements/test.lock
  # vpnctl itself: its build backend comes from the lock too, so nothing unpinned is fetched.
  "${pip[@]}" install --no-deps --no-build-isolation .
fi
say "vpnctl installed in $venv: run $venv/bin/vpnctl, or activate with: . $venv/bin/activate"
