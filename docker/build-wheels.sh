#!/bin/sh
# Build stage of the image (and of tests/integration/deploy/test_image.py): meshbot's
# wheel and a wheel of every dependency, into one directory. Nothing else leaves the stage.
#   build-wheels.sh SOURCE_DIR WHEEL_DIR [EXTRAS]
set -eu
src="$1"
out="$2"
extras="${3:-}"
target="$src"
if [ -n "$extras" ]; then target="$src[$extras]"; fi
"${PYTHON:-python3}" -m pip wheel --disable-pip-version-check --wheel-dir "$out" "$target"
