# FindICU — locates ICU's C API (unicode/ucal.h) through pkg-config first.
# Defines the imported target klok::icu, linking icu-i18n (calendars and time
# zones) and icu-uc (+ icu-data, which holds the time-zone rules).
# This file shadows CMake's own FindICU module on purpose: klok needs only the
# three libraries above and its own target name.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_ICU QUIET icu-i18n icu-uc)
endif()
find_path(ICU_INCLUDE_DIR NAMES unicode/ucal.h HINTS ${PC_ICU_INCLUDE_DIRS})
find_library(ICU_I18N_LIBRARY NAMES icui18n HINTS ${PC_ICU_LIBRARY_DIRS})
find_library(ICU_UC_LIBRARY NAMES icuuc HINTS ${PC_ICU_LIBRARY_DIRS})
find_library(ICU_DATA_LIBRARY NAMES icudata HINTS ${PC_ICU_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(ICU
  REQUIRED_VARS ICU_I18N_LIBRARY ICU_UC_LIBRARY ICU_DATA_LIBRARY ICU_INCLUDE_DIR
  VERSION_VAR PC_ICU_VERSION)
if(ICU_FOUND AND NOT TARGET klok::icu)
  add_library(klok::icu INTERFACE IMPORTED)
  set_target_properties(klok::icu PROPERTIES
    INTERFACE_LINK_LIBRARIES "${ICU_I18N_LIBRARY};${ICU_UC_LIBRARY};${ICU_DATA_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ICU_INCLUDE_DIR}")
endif()
mark_as_advanced(ICU_INCLUDE_DIR ICU_I18N_LIBRARY ICU_UC_LIBRARY ICU_DATA_LIBRARY)
