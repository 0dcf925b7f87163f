# Sourced by the scripts: make sure uv is there and never fetches its own Python.
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON_PREFERENCE=only-system
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet uv
fi
