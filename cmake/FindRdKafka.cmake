# FindRdKafka — locates rdkafka (librdkafka/rdkafka.h). Defines the imported target klok::rdkafka.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_RdKafka QUIET rdkafka)
endif()
find_path(RdKafka_INCLUDE_DIR NAMES librdkafka/rdkafka.h HINTS ${PC_RdKafka_INCLUDE_DIRS})
find_library(RdKafka_LIBRARY NAMES rdkafka HINTS ${PC_RdKafka_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(RdKafka REQUIRED_VARS RdKafka_LIBRARY RdKafka_INCLUDE_DIR)
if(RdKafka_FOUND AND NOT TARGET klok::rdkafka)
  add_library(klok::rdkafka UNKNOWN IMPORTED)
  set_target_properties(klok::rdkafka PROPERTIES
    IMPORTED_LOCATION "${RdKafka_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${RdKafka_INCLUDE_DIR}")
endif()
mark_as_advanced(RdKafka_INCLUDE_DIR RdKafka_LIBRARY)
