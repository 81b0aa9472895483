# Debian package of TrafficTriage (CPack, DEB generator).
#
#   cmake -S . -B build-deb -DTT_SYSTEM_INSTALL=ON -DBUILD_TESTING=OFF
#   cmake --build build-deb -j2
#   (cd build-deb && cpack -G DEB)          -> build-deb/wireshark-traffictriage_<version>_<arch>.deb
#   sudo apt install ./build-deb/wireshark-traffictriage_*.deb
#
# The package holds what `cmake --install` puts in place with TT_SYSTEM_INSTALL=ON:
# triage.so in Wireshark's global plugin folder, the models next to it
# (.../epan/triage/*.ttm), the "TrafficTriage" configuration profile in
# Wireshark's global profiles folder, and the traffictriage command in /usr/bin.
# A plugin only loads into the Wireshark it was built for, so the package
# depends on exactly the libwireshark package (name and version) found by dpkg
# when this file is configured; dpkg-shlibdeps (dpkg-dev) adds the other
# shared libraries when it is installed.
#
# Included from the root CMakeLists.txt (include(plugin/packaging.cmake OPTIONAL)).

if(NOT TT_BUILD_PLUGIN OR NOT TARGET triage)
  return()
endif()
if(NOT TT_SYSTEM_INSTALL)
  message(STATUS "TrafficTriage packaging: cpack is set up only with -DTT_SYSTEM_INSTALL=ON "
                 "(a package installs into Wireshark's global folders)")
  return()
endif()

# ---- the exact libwireshark package -----------------------------------------
# The imported targets of find_package(Wireshark) in plugin/ are not visible here.
if(NOT TARGET epan)
  find_package(Wireshark CONFIG QUIET)
endif()
find_program(TT_DPKG_QUERY dpkg-query)
find_program(TT_DPKG dpkg)
set(TT_LIBWIRESHARK_DEP "")
get_target_property(_tt_epan_configs epan IMPORTED_CONFIGURATIONS)
set(_tt_epan_lib "")
foreach(_cfg IN LISTS _tt_epan_configs ITEMS "")
  if(_cfg)
    get_target_property(_loc epan IMPORTED_LOCATION_${_cfg})
  else()
    get_target_property(_loc epan IMPORTED_LOCATION)
  endif()
  if(_loc AND EXISTS "${_loc}")
    set(_tt_epan_lib "${_loc}")
    break()
  endif()
endforeach()
if(_tt_epan_lib AND TT_DPKG AND TT_DPKG_QUERY)
  # "libwireshark16:amd64: /usr/lib/x86_64-linux-gnu/libwireshark.so.16.0.17"
  execute_process(COMMAND ${TT_DPKG} -S "${_tt_epan_lib}"
                  OUTPUT_VARIABLE _owner RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_rc EQUAL 0 AND _owner MATCHES "^([^:, ]+)")
    set(_tt_ws_pkg "${CMAKE_MATCH_1}")
    execute_process(COMMAND ${TT_DPKG_QUERY} -W -f=\${Version} "${_tt_ws_pkg}"
                    OUTPUT_VARIABLE _tt_ws_ver RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_rc EQUAL 0 AND _tt_ws_ver)
      set(TT_LIBWIRESHARK_DEP "${_tt_ws_pkg} (= ${_tt_ws_ver})")
    endif()
  endif()
endif()
if(TT_LIBWIRESHARK_DEP)
  message(STATUS "TrafficTriage packaging: the .deb depends on ${TT_LIBWIRESHARK_DEP}")
else()
  message(WARNING "TrafficTriage packaging: could not find which Debian package provides "
                  "${_tt_epan_lib}; the .deb will not pin the Wireshark version")
endif()

# ---- CPack ------------------------------------------------------------------
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "wireshark-traffictriage")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "TrafficTriage")
set(CPACK_PACKAGE_CONTACT "TrafficTriage maintainers <traffictriage@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Wireshark plugin labelling TCP/UDP flows as voip/video/chat/browsing/file_transfer")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Wireshark plugin labelling TCP/UDP flows by traffic category\n\
TrafficTriage is a post-dissector for Wireshark ${TRIAGE_WS_MAJOR_MINOR} that labels every\n\
TCP/UDP flow as voip, video, chat, browsing or file_transfer from packet sizes\n\
and arrival times only (the FlowPic method: a small CNN on a size x time\n\
histogram of each flow block). No payload is read, so it also works on\n\
encrypted traffic.\n\
.\n\
This package installs the plugin (fields triage.*, Statistics > TrafficTriage,\n\
Tools > TrafficTriage), its bundled models, the TrafficTriage configuration\n\
profile (Category and Confidence columns, colouring rules) and the\n\
traffictriage command (train, evaluate, classify and render FlowPics).")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${TT_LIBWIRESHARK_DEP}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "wireshark-qt | tshark")
find_program(TT_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(TT_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  message(STATUS "TrafficTriage packaging: dpkg-shlibdeps not found (apt install dpkg-dev); "
                 "only ${TT_LIBWIRESHARK_DEP} is declared")
endif()
# Wireshark's global folders are absolute paths (/usr/lib/<arch>/wireshark/...).
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)

include(CPack)
