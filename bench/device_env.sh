# Sourced by the scripts run on the device host (bench/gpu_device.sh, bench/measure_device.sh), from
# the repository root: the wheels in .whl/ into .site/ (the host has no package access), and the
# installed layout of optc rebuilt from the working tree on PYTHONPATH. Needs ROOT and PYTHON.
if [ -z "${NUMBA_ENABLE_CUDASIM:-}" ] && [ -d .whl ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .site .whl/*.whl \
        || { echo "device_env.sh: installing .whl/ into .site/ failed" >&2; exit 2; }
    SITE=$ROOT/.site:
else
    SITE=
fi

# The installed layout (optcompiler.passes, .costmodel and .corpus are top-level folders in the
# repository, mapped by pyproject's package-dir) rebuilt from the working tree without installing it.
PKG=$(mktemp -d)
trap 'rm -rf "$PKG"' EXIT
mkdir -p "$PKG/optcompiler"
cp -r optcompiler/. "$PKG/optcompiler/"
for sub in passes costmodel corpus; do cp -r "$sub" "$PKG/optcompiler/$sub"; done
find "$PKG" -name __pycache__ -prune -exec rm -rf {} +
export PYTHONPATH=$SITE$PKG
export PYTHONDONTWRITEBYTECODE=1
