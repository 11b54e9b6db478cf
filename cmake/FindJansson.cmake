# FindJansson — locates jansson (jansson.h). Defines the imported target klok::jansson.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_Jansson QUIET jansson)
endif()
find_path(Jansson_INCLUDE_DIR NAMES jansson.h HINTS ${PC_Jansson_INCLUDE_DIRS})
find_library(Jansson_LIBRARY NAMES jansson HINTS ${PC_Jansson_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Jansson REQUIRED_VARS Jansson_LIBRARY Jansson_INCLUDE_DIR)
if(Jansson_FOUND AND NOT TARGET klok::jansson)
  add_library(klok::jansson UNKNOWN IMPORTED)
  set_target_properties(klok::jansson PROPERTIES
    IMPORTED_LOCATION "${Jansson_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Jansson_INCLUDE_DIR}")
endif()
mark_as_advanced(Jansson_INCLUDE_DIR Jansson_LIBRARY)
