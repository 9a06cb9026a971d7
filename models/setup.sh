#!/usr/bin/env bash
# Installs the model tooling from Debian's packages, once; a no-op when it is already there.
# Without libopenblas0-pthread torch falls back to a reference BLAS that is about 30 times slower.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pkgs=(python3-torch python3-onnx python3-pil python3-numpy libopenblas0-pthread fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "models/setup.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
"$here/py" -c 'import torch; print("torch", torch.__version__)'
