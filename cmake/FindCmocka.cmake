# FindCmocka — locates cmocka (cmocka.h). Defines the imported target klok::cmocka.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_Cmocka QUIET cmocka)
endif()
find_path(Cmocka_INCLUDE_DIR NAMES cmocka.h HINTS ${PC_Cmocka_INCLUDE_DIRS})
find_library(Cmocka_LIBRARY NAMES cmocka HINTS ${PC_Cmocka_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Cmocka REQUIRED_VARS Cmocka_LIBRARY Cmocka_INCLUDE_DIR)
if(Cmocka_FOUND AND NOT TARGET klok::cmocka)
  add_library(klok::cmocka UNKNOWN IMPORTED)
  set_target_properties(klok::cmocka PROPERTIES
    IMPORTED_LOCATION "${Cmocka_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Cmocka_INCLUDE_DIR}")
endif()
mark_as_advanced(Cmocka_INCLUDE_DIR Cmocka_LIBRARY)
