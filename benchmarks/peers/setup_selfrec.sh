#!/usr/bin/env bash
# Creates benchmarks/peers/.venv-selfrec and a SELFRec source tree beside it.
#
# Usage: SELFREC_GIT_DIR=<a git directory of Coder-Yu/SELFRec> \
#            bash benchmarks/peers/setup_selfrec.sh [PYTHON]   (default: python3)
#
# SELFRec (the SimGCL / XSimGCL authors' library) is not on the package registry:
# its source is extracted from a git directory you provide (a clone, or a bare
# mirror) into benchmarks/peers/.selfrec/ at that directory's HEAD, without its
# bundled datasets (the runner writes our split in its format). Its dependencies
# (numba, scipy, PyYAML, numpy) and the CPU torch go into their own virtual
# environment. Nothing of SELFRec is part of this repository. Idempotent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SELFREC_VENV:-$HERE/.venv-selfrec}"
TREE="${SELFREC_TREE:-$HERE/.selfrec}"
PYTHON="${1:-python3}"
TORCH="${TORCH:-torch==2.13.0}"

if [ ! -f "$TREE/SELFRec.py" ]; then
  : "${SELFREC_GIT_DIR:?set SELFREC_GIT_DIR to a git directory of Coder-Yu/SELFRec}"
  mkdir -p "$TREE"
  git --git-dir="$SELFREC_GIT_DIR" archive HEAD SELFRec.py base data model util conf \
    | tar -x -C "$TREE"
  git --git-dir="$SELFREC_GIT_DIR" rev-parse HEAD > "$TREE/COMMIT"
fi

check() {
  "$VENV/bin/python" -c "import numba, scipy, yaml, numpy, torch" 2>/dev/null
}
if [ -x "$VENV/bin/python" ] && check; then
  echo "selfrec environment ready: $VENV (source $TREE at $(cat "$TREE/COMMIT"))"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "$TORCH" numba scipy pyyaml numpy
check && echo "selfrec environment ready: $VENV (source $TREE at $(cat "$TREE/COMMIT"))"
