# Finds oneDNN 2.x (Debian's libdnnl-dev) for the optional conv2d backend (docs/tensor-engine.md).
# Defines DNNL_FOUND, DNNL_VERSION, DNNL_CPU_RUNTIME and the imported target troupe::dnnl.
#
# oneDNN's own package config is not used: Debian built it with the OpenCL GPU runtime, so the
# config hard-requires OpenCL headers (ocl-icd-opencl-dev) that the CPU primitives never touch.
# The backend sets the OpenMP thread count of each call, so troupe::dnnl also links the OpenMP
# runtime oneDNN was built with (libgomp) directly.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DNNL_LIBRARY NAMES dnnl)
find_library(DNNL_GOMP_LIBRARY NAMES gomp libgomp.so.1)

if(DNNL_INCLUDE_DIR AND EXISTS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
  foreach(_part MAJOR MINOR PATCH)
    file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _line REGEX "^#define DNNL_VERSION_${_part} ")
    string(REGEX REPLACE "^#define DNNL_VERSION_${_part} +([0-9]+).*" "\\1" _dnnl_${_part} "${_line}")
  endforeach()
  set(DNNL_VERSION "${_dnnl_MAJOR}.${_dnnl_MINOR}.${_dnnl_PATCH}")
  file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_config.h" _line REGEX "^#define DNNL_CPU_RUNTIME ")
  string(REGEX REPLACE "^#define DNNL_CPU_RUNTIME +DNNL_RUNTIME_([A-Z]+).*" "\\1" DNNL_CPU_RUNTIME "${_line}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DNNL REQUIRED_VARS DNNL_INCLUDE_DIR DNNL_LIBRARY DNNL_GOMP_LIBRARY
                                  VERSION_VAR DNNL_VERSION)

if(DNNL_FOUND AND NOT TARGET troupe::dnnl)
  add_library(troupe::dnnl UNKNOWN IMPORTED)
  set_target_properties(troupe::dnnl PROPERTIES IMPORTED_LOCATION "${DNNL_LIBRARY}"
                                                INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}"
                                                INTERFACE_LINK_LIBRARIES "${DNNL_GOMP_LIBRARY}")
endif()
mark_as_advanced(DNNL_INCLUDE_DIR DNNL_LIBRARY DNNL_GOMP_LIBRARY)
