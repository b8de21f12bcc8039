#!/usr/bin/env bash
# Install the app's requirements in .venv and start it on http://127.0.0.1:8501.
# An empty database opens on the committed sample. Extra arguments go to streamlit.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/python -m streamlit run app.py "$@"
