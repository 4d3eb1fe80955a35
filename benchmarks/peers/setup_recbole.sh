#!/usr/bin/env bash
# Creates benchmarks/peers/.venv-recbole with RecBole 1.2.1 on torch 2.13 (CPU).
#
# Usage: bash benchmarks/peers/setup_recbole.sh [PYTHON]   (default: python3)
#
# RecBole is installed from the package registry into its own virtual environment;
# none of its code lives in this repository. Idempotent: does nothing when the
# environment already imports recbole 1.2.1 with the pinned torch.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${RECBOLE_VENV:-$HERE/.venv-recbole}"
PYTHON="${1:-python3}"
TORCH="${TORCH:-torch==2.13.0}"
RECBOLE="recbole==1.2.1"
# Pins RecBole 1.2.1 needs (an unpinned install resolves numpy 2, pandas 3,
# scipy 1.17 and setuptools 84):
# - numpy<2: recbole.config sets np.float = np.float_ etc., gone in numpy 2.
# - pandas<3: pandas 3 requires numpy >= 2 (and changes the chained in-place
#   fillna RecBole's dataset relies on).
# - scipy<1.13: LightGCN (and NGCF, GCMC, NCL, ...) call dok_matrix._update,
#   missing from scipy 1.13 on.
# - setuptools<81: recbole.quick_start imports ray 2.6.3, which imports
#   pkg_resources (removed from setuptools 81 on).
PINS=("numpy<2" "pandas<3" "scipy<1.13" "setuptools<81")

check() {
  "$VENV/bin/python" - "$@" <<'PY' 2>/dev/null
import importlib.metadata as md
import sys
assert md.version("recbole") == "1.2.1", md.version("recbole")
if "==" in sys.argv[1]:  # a pinned torch must be the installed one
    want = sys.argv[1].split("==")[1]
    assert md.version("torch").split("+")[0] == want, md.version("torch")
import recbole.quick_start  # noqa: F401  (imports the trainer and models)
from recbole.model.general_recommender import LightGCN, SGL  # noqa: F401
PY
}

if [ -x "$VENV/bin/python" ] && check "$TORCH"; then
  echo "recbole environment ready: $VENV"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
"$VENV/bin/python" -m pip install --quiet "$TORCH"
"$VENV/bin/python" -m pip install --quiet "$RECBOLE" "$TORCH" "${PINS[@]}"

if check "$TORCH"; then
  echo "recbole environment ready: $VENV"
else
  echo "recbole environment at $VENV does not import; see the errors above" >&2
  "$VENV/bin/python" -c "import recbole.quick_start" || true
  exit 1
fi
