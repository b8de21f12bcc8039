#!/usr/bin/env bash
# Install what the tests need (Python packages in .venv; from Debian, chromium for the
# browser test and a Java runtime for Spark) and run the whole suite. Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# Debian's packages the tests need: chromium (browser tests), and a Java runtime for
# the Spark job (tests/test_spark.py; default-jre-headless is OpenJDK 17 on bookworm).
PACKAGES=()
[ -x /usr/bin/chromium ] || PACKAGES+=(chromium)
command -v java >/dev/null 2>&1 || PACKAGES+=(default-jre-headless)
if [ ${#PACKAGES[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
fi
# With no arguments, the whole suite in two phases: the one load-sensitive scenario
# (marked solo: ten browsers against one app, tests/test_many_users.py) alone first,
# then everything else on two workers (pytest-xdist), a module to a worker. Both phases always run; the
# script fails if either does. With arguments, one plain pytest run with them.
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -m solo || status=$?
.venv/bin/python -m pytest -m "not solo" -n "${PYTEST_WORKERS:-2}" --dist loadfile || status=$?
exit "$status"
