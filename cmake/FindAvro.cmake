# FindAvro — locates avro (avro.h). Defines the imported target klok::avro.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_Avro QUIET avro-c)
endif()
find_path(Avro_INCLUDE_DIR NAMES avro.h HINTS ${PC_Avro_INCLUDE_DIRS})
find_library(Avro_LIBRARY NAMES avro HINTS ${PC_Avro_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Avro REQUIRED_VARS Avro_LIBRARY Avro_INCLUDE_DIR)
if(Avro_FOUND AND NOT TARGET klok::avro)
  add_library(klok::avro UNKNOWN IMPORTED)
  set_target_properties(klok::avro PROPERTIES
    IMPORTED_LOCATION "${Avro_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Avro_INCLUDE_DIR}")
endif()
mark_as_advanced(Avro_INCLUDE_DIR Avro_LIBRARY)
