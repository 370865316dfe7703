#!/usr/bin/env bash
# The .deb: built by CPack from this build tree, its contents and dependencies checked with
# dpkg-deb, unpacked into a clean root whose CLI runs, and lintian without errors.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
cmake --build "$build" --target package-files >/dev/null
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack"; }
deb="$(ls "$tmp"/out/mergescope_*_amd64.deb)" || fail "no mergescope_<version>_amd64.deb"
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/bin/mergescope ./usr/bin/mergescope-cli ./usr/share/applications/mergescope.desktop \
         ./usr/share/metainfo/org.mergescope.MergeScope.metainfo.xml ./usr/share/icons/hicolor/scalable/apps/mergescope.svg \
         ./usr/share/man/man1/mergescope.1.gz ./usr/share/man/man1/mergescope-cli.1.gz \
         ./usr/share/doc/mergescope/copyright ./usr/share/doc/mergescope/changelog.gz; do
  grep -qx "$f" "$tmp/contents" || fail "$f is not in the package"
done
if grep -E '/(tests?|bench)/|_tests$|bench_' "$tmp/contents"; then fail "test or benchmark files in the package"; fi
depends="$(dpkg-deb --field "$deb" Depends)"
for lib in libtorch1.13 libqt6widgets6 libhdf5-103-1 libqcustomplot2.1-qt6 libturbojpeg0 libpng16-16; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
[ "$(dpkg-deb --field "$deb" Architecture)" = amd64 ] || fail "architecture"
# Unpacked into a clean root: the binaries find their libraries in the system and run.
dpkg-deb -x "$deb" "$tmp/root"
v="$("$tmp/root/usr/bin/mergescope-cli" --version)" || fail "the packaged CLI does not run"
[ "$v" = "mergescope-cli $(dpkg-deb --field "$deb" Version)" ] || fail "version '$v'"
"$tmp/root/usr/bin/mergescope-cli" gather --help >/dev/null || fail "gather --help"
zcat "$tmp/root/usr/share/man/man1/mergescope-cli.1.gz" | grep -q '^\.TH' || fail "man page"
grep -q '^Exec=mergescope' "$tmp/root/usr/share/applications/mergescope.desktop" || fail "desktop file"
python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' \
  "$tmp/root/usr/share/metainfo/org.mergescope.MergeScope.metainfo.xml" || fail "metainfo is not XML"
if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 "$deb" >"$tmp/lintian.txt" 2>/dev/null || true
  cat "$tmp/lintian.txt"
  if grep -q '^E:' "$tmp/lintian.txt"; then fail "lintian errors"; fi
else
  echo "lintian not installed: its check skipped"
fi
echo "package ok"
