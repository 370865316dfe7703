#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test; then the core tests
# under AddressSanitizer + UndefinedBehaviorSanitizer, and each fuzz target for a bounded time.
# Usage: bash packaging/test.sh [--quick]   (--quick: only the Release build's tests)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
ms_install_missing "${MS_TEST_PACKAGES[@]}"
ms_fetch_mnist
ms_build "$MS_BUILD" -DMS_WERROR=ON
ms_log "tests (Release)"
(cd "$MS_BUILD" && QT_QPA_PLATFORM=offscreen ctest -j "$MS_JOBS" --output-on-failure)
[ $quick -eq 1 ] && exit 0

ms_log "core tests under ASan + UBSan"
ms_build "$MS_BUILD-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMS_SANITIZE=ON -DMS_BUILD_GUI=OFF -DMS_BUILD_MODEL=OFF \
  -DMS_BUILD_BENCH=OFF -DMS_WERROR=ON
(cd "$MS_BUILD-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS=suppressions="$MS_ROOT/tests/lsan.supp" \
  ctest -j "$MS_JOBS" --output-on-failure -L core)

ms_log "fuzzing (${MS_FUZZ_SECONDS:=45} s per target)"
MS_TARGETS="fuzz_safetensors_header fuzz_unpickler fuzz_image_decode fuzz_npy" ms_build "$MS_BUILD-fuzz" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DMS_FUZZ=ON -DMS_BUILD_GUI=OFF -DMS_BUILD_MODEL=OFF \
  -DMS_BUILD_TESTS=OFF -DMS_BUILD_BENCH=OFF
for target in fuzz_safetensors_header fuzz_unpickler fuzz_image_decode fuzz_npy; do
  corpus="$MS_BUILD-fuzz/corpus/$target"
  mkdir -p "$corpus"
  "$MS_BUILD-fuzz/fuzz/$target" -max_total_time="$MS_FUZZ_SECONDS" -rss_limit_mb=2048 \
    -print_final_stats=1 "$corpus" "$MS_ROOT/fuzz/seeds/$target" 2>&1 | tail -n 4
done
ms_log "all tests passed"
