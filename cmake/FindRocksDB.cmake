# FindRocksDB — locates rocksdb (rocksdb/c.h). Defines the imported target klok::rocksdb.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_RocksDB QUIET rocksdb)
endif()
find_path(RocksDB_INCLUDE_DIR NAMES rocksdb/c.h HINTS ${PC_RocksDB_INCLUDE_DIRS})
find_library(RocksDB_LIBRARY NAMES rocksdb HINTS ${PC_RocksDB_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(RocksDB REQUIRED_VARS RocksDB_LIBRARY RocksDB_INCLUDE_DIR)
if(RocksDB_FOUND AND NOT TARGET klok::rocksdb)
  add_library(klok::rocksdb UNKNOWN IMPORTED)
  set_target_properties(klok::rocksdb PROPERTIES
    IMPORTED_LOCATION "${RocksDB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${RocksDB_INCLUDE_DIR}")
endif()
mark_as_advanced(RocksDB_INCLUDE_DIR RocksDB_LIBRARY)
