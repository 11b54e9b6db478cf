# FindMicroHTTPD — locates microhttpd (microhttpd.h). Defines the imported target klok::microhttpd.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_MicroHTTPD QUIET libmicrohttpd)
endif()
find_path(MicroHTTPD_INCLUDE_DIR NAMES microhttpd.h HINTS ${PC_MicroHTTPD_INCLUDE_DIRS})
find_library(MicroHTTPD_LIBRARY NAMES microhttpd HINTS ${PC_MicroHTTPD_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MicroHTTPD REQUIRED_VARS MicroHTTPD_LIBRARY MicroHTTPD_INCLUDE_DIR)
if(MicroHTTPD_FOUND AND NOT TARGET klok::microhttpd)
  add_library(klok::microhttpd UNKNOWN IMPORTED)
  set_target_properties(klok::microhttpd PROPERTIES
    IMPORTED_LOCATION "${MicroHTTPD_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${MicroHTTPD_INCLUDE_DIR}")
endif()
mark_as_advanced(MicroHTTPD_INCLUDE_DIR MicroHTTPD_LIBRARY)
