# The Debian package (packaging/deb.sh): binaries, desktop entry, AppStream metainfo, icon, man
# pages made by help2man from --help, copyright and changelog; CPack's DEB generator computes the
# library dependencies with dpkg-shlibdeps. Install prefix /usr for the package.
include(GNUInstallDirs)
set(MS_DEB_DIR ${PROJECT_SOURCE_DIR}/packaging/deb)
if(MS_BUILD_GUI)
  install(FILES ${MS_DEB_DIR}/mergescope.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES ${MS_DEB_DIR}/org.mergescope.MergeScope.metainfo.xml DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
  install(FILES ${MS_DEB_DIR}/mergescope.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
endif()
set(MS_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/mergescope)  # the package's name, not the project's
install(FILES ${MS_DEB_DIR}/copyright DESTINATION ${MS_DOC_DIR})

# Compressed the Debian way (gzip -9n: no name or time stamp, reproducible).
find_program(HELP2MAN help2man)
find_program(GZIP gzip)
set(MS_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(OUTPUT ${MS_MAN_DIR}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${MS_MAN_DIR}
  COMMAND ${GZIP} -9nc ${MS_DEB_DIR}/changelog > ${MS_MAN_DIR}/changelog.gz
  DEPENDS ${MS_DEB_DIR}/changelog VERBATIM)
set(MS_PACKAGE_FILES ${MS_MAN_DIR}/changelog.gz)
if(HELP2MAN)
  set(MS_MAN_PROGRAMS mergescope-cli)
  if(MS_BUILD_GUI)
    list(APPEND MS_MAN_PROGRAMS mergescope)
  endif()
  foreach(prog ${MS_MAN_PROGRAMS})
    add_custom_command(OUTPUT ${MS_MAN_DIR}/${prog}.1.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${MS_MAN_DIR}
      COMMAND ${CMAKE_COMMAND} -E env QT_QPA_PLATFORM=offscreen
              ${HELP2MAN} --no-info --section=1 --name=${PROJECT_DESCRIPTION} --output=${MS_MAN_DIR}/${prog}.1 $<TARGET_FILE:${prog}>
      COMMAND ${GZIP} -9nf ${MS_MAN_DIR}/${prog}.1
      DEPENDS ${prog} VERBATIM)
    list(APPEND MS_PACKAGE_FILES ${MS_MAN_DIR}/${prog}.1.gz)
    install(FILES ${MS_MAN_DIR}/${prog}.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 OPTIONAL)
  endforeach()
endif()
add_custom_target(package-files DEPENDS ${MS_PACKAGE_FILES})
install(FILES ${MS_MAN_DIR}/changelog.gz DESTINATION ${MS_DOC_DIR} OPTIONAL)  # native package: changelog.gz

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mergescope)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "MergeScope developers <mergescope@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "merge fine-tuned vision encoders, choose settings with a proxy")
# The synopsis is the summary above; this is the extended description (lines under 80 columns).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "MergeScope merges vision encoders fine-tuned from one pretrained model
 (task arithmetic, TIES, DARE, TALL masks, CALM, AdaMerging, ...) and sweeps
 their coefficients, scoring each point with the task alignment proxy and,
 where asked, with downstream performance. It ships a Qt workbench and its
 headless twin, mergescope-cli, which shards sweeps over Slurm clusters.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # mergescope_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/mergescope/mergescope")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dataset-fashion-mnist")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurm-client")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
