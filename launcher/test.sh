#!/usr/bin/env bash
# Set up (packages, build from scratch), then run the CTest suite and end
# with CTest's summary. Extra arguments go to ctest (e.g. -L unit).
# The default run leaves out tests labelled "long"; DT_TEST_LONG=1 adds them.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${DT_BUILD_DIR:-build}"
rm -rf "$build"
DT_SETUP_TESTS=1 launcher/setup.sh
cd "$build"
exclude=(-LE long)
[ "${DT_TEST_LONG:-0}" = 1 ] && exclude=()
ctest --output-on-failure -j 1 "${exclude[@]}" "$@"
