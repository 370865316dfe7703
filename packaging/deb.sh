#!/usr/bin/env bash
# Builds mergescope_<version>_amd64.deb from the Release build (prefix /usr), then shows its
# contents and dependencies and runs lintian on it (findings: docs/packaging.md).
# Usage: bash packaging/deb.sh [OUTDIR]   (default: build/deb)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out="${1:-$MS_BUILD/deb}"
ms_install_missing "${MS_TEST_PACKAGES[@]}"
ms_fetch_mnist
ms_build "$MS_BUILD"  # CPack packages under /usr whatever CMAKE_INSTALL_PREFIX is
cmake --build "$MS_BUILD" --target package-files
mkdir -p "$out"
(cd "$MS_BUILD" && cpack -G DEB -B "$out" >/dev/null)
deb="$(ls -t "$out"/mergescope_*_amd64.deb | head -n 1)"
ms_log "built $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends
if command -v lintian >/dev/null; then
  ms_log "lintian"
  lintian --no-tag-display-limit "$deb" || true
fi
echo "$deb"
