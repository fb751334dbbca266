# Required dependencies of dtrain: Open MPI, parallel HDF5, OpenBLAS, OpenMP,
# libyaml, cJSON and zlib. Each missing one is a configure error that names
# the Debian package to install. With DT_MPI=OFF only the compute library's
# (OpenBLAS, OpenMP, libyaml) are looked for.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

if(DT_MPI)
  find_package(MPI REQUIRED COMPONENTS C)

  set(HDF5_PREFER_PARALLEL TRUE)
  find_package(HDF5 REQUIRED COMPONENTS C)
  if(NOT HDF5_IS_PARALLEL)
    message(FATAL_ERROR "dtrain needs the parallel (MPI) build of HDF5: "
      "apt-get install libhdf5-openmpi-dev")
  endif()
  add_library(dt_hdf5 INTERFACE)
  target_include_directories(dt_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(dt_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(dt_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

find_package(OpenMP REQUIRED COMPONENTS C)

# OpenBLAS. The OpenMP build makes BLAS use the same libgomp pool as
# dtrain's own loops; with the pthread build two pools would spin on the
# same cores. Debian installs both side by side under openblas-<variant>/.
set(_dt_blas_variant pthread)
if(DT_BLAS_OPENMP)
  set(_dt_blas_variant openmp)
endif()
find_library(DT_OPENBLAS_LIB NAMES openblas
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-${_dt_blas_variant}
  NO_DEFAULT_PATH)
if(NOT DT_OPENBLAS_LIB)
  if(DT_BLAS_OPENMP)
    message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: "
      "apt-get install libopenblas-openmp-dev, or configure with -DDT_BLAS_OPENMP=OFF")
  endif()
  find_library(DT_OPENBLAS_LIB NAMES openblas)
endif()
if(NOT DT_OPENBLAS_LIB)
  message(FATAL_ERROR "OpenBLAS not found: apt-get install libopenblas-dev")
endif()
find_path(DT_CBLAS_INCLUDE NAMES cblas.h
  PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-${_dt_blas_variant}
  PATH_SUFFIXES openblas)
get_filename_component(DT_OPENBLAS_DIR ${DT_OPENBLAS_LIB} DIRECTORY)
set(DT_BLAS_DESC "OpenBLAS (${DT_OPENBLAS_LIB})")
add_library(dt_blas INTERFACE)
target_include_directories(dt_blas INTERFACE ${DT_CBLAS_INCLUDE})
target_link_libraries(dt_blas INTERFACE ${DT_OPENBLAS_LIB})
# The shared object's soname (libopenblas.so.0) is also the name of Debian's
# alternatives link; the run path makes the loader take the variant linked.
target_link_options(dt_blas INTERFACE "LINKER:-rpath,${DT_OPENBLAS_DIR}"
  "LINKER:--disable-new-dtags")

pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
if(DT_MPI)
  pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
  find_package(ZLIB REQUIRED)
endif()
