#!/bin/sh
# Final stage of the image (and of tests/integration/deploy/test_image.py, run there as a
# non-root user): a fresh virtualenv with meshbot installed from the built wheels only —
# no index, no compiler, no source tree.
#   install.sh WHEEL_DIR VENV [EXTRAS]
set -eu
wheels="$1"
venv="$2"
extras="${3:-}"
target="meshbot"
if [ -n "$extras" ]; then target="meshbot[$extras]"; fi
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
  --no-index --find-links "$wheels" "$target"
# byte-compiled at build time: the root filesystem is read-only at run time
"$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null
