# Third-party dependencies, all from Debian 12 packages (see README "Dependencies").
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)                      # deflated zip entries, gzipped IDX data
find_package(nlohmann_json 3.10 REQUIRED)        # safetensors headers, --json output
find_package(CLI11 REQUIRED)                     # mergescope-cli argument parsing
find_package(yaml-cpp REQUIRED)                  # merge recipes
find_package(HDF5 REQUIRED COMPONENTS C)         # HDF5 weight files and experiment store
if(MS_BUILD_MODEL)
  find_package(Torch REQUIRED)                   # running encoders (core/model); CPU LibTorch 1.13
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)  # content hashes (XXH3-128)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)  # JPEG decoding (kit images), as Pillow's libjpeg
find_package(PNG REQUIRED)                        # PNG decoding (kit images, 16-bit target maps)
find_package(LAPACK REQUIRED)                     # SVDs of the subspace merge methods (iso_c, iso_cts, tsv_m)
find_package(BLAS REQUIRED)                       # their matrix products
find_package(ICU REQUIRED COMPONENTS uc i18n)     # CLIP tokenizer: \p{L}/\p{N} regex, NFC/NFKC, full lower-casing

if(MS_BUILD_GUI)
  # Qt6 must come before QCustomPlotQt6 (its config looks Qt up).
  find_package(Qt6 REQUIRED COMPONENTS Widgets Concurrent Svg PrintSupport Test)
  find_package(QCustomPlotQt6 REQUIRED)              # the workbench's plots (GPLv3)
endif()
