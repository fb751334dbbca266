# The optional CUDA backend and NCCL communicator.
#
# DT_CUDA   AUTO (default): build the CUDA backend when CMake finds a CUDA
#           compiler and the toolkit; ON: the same, and a configure error if
#           either is missing; OFF: CPU only.
# DT_NCCL   follows DT_CUDA unless given: NCCL (nccl.h, libnccl) is looked
#           for next to the toolkit; ON makes a missing NCCL an error.
# DT_CUDA_ARCHITECTURES
#           the GPU architectures compiled for, as CMAKE_CUDA_ARCHITECTURES:
#           90 (H100/H200) by default. Add others with a semicolon list, e.g.
#           "90;100" for Blackwell B200 as well, "80" for A100; each one
#           adds compile time. "native" needs a GPU on the build machine.
#
# Sets DT_HAVE_CUDA and DT_HAVE_NCCL (ON/OFF) and DT_CUDA_DESC, DT_NCCL_DESC
# for the summary.
set(DT_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO, ON or OFF")
set_property(CACHE DT_CUDA PROPERTY STRINGS AUTO ON OFF)
set(DT_NCCL "" CACHE STRING "Build the NCCL communicator: AUTO, ON, OFF (empty: as DT_CUDA)")
set(DT_CUDA_ARCHITECTURES 90 CACHE STRING
  "CUDA architectures to compile for (90 = H100/H200; add 100 for Blackwell)")

string(TOUPPER "${DT_CUDA}" _dt_cuda)
set(_dt_nccl "${DT_NCCL}")
if(_dt_nccl STREQUAL "")
  set(_dt_nccl ${_dt_cuda})
endif()
string(TOUPPER "${_dt_nccl}" _dt_nccl)
foreach(v _dt_cuda _dt_nccl)
  if(NOT ${v} MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "DT_CUDA and DT_NCCL take AUTO, ON or OFF, not '${${v}}'")
  endif()
endforeach()

set(DT_HAVE_CUDA OFF)
set(DT_HAVE_NCCL OFF)
set(DT_CUDA_DESC "off (DT_CUDA=OFF)")
set(DT_NCCL_DESC "off")

if(NOT _dt_cuda STREQUAL "OFF")
  include(CheckLanguage)
  # Where nvcc is not on PATH, the toolkit's usual home is tried too.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "CUDA compiler")
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES "${DT_CUDA_ARCHITECTURES}")
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(CUDAToolkit_FOUND AND TARGET CUDA::cublas)
      set(DT_HAVE_CUDA ON)
      set(DT_CUDA_DESC
        "CUDA ${CUDAToolkit_VERSION}, cuBLAS, architectures ${DT_CUDA_ARCHITECTURES}")
      string(REPLACE ";" "," DT_CUDA_ARCHS_TEXT "${DT_CUDA_ARCHITECTURES}")
    endif()
  endif()
  if(NOT DT_HAVE_CUDA)
    if(_dt_cuda STREQUAL "ON")
      message(FATAL_ERROR "DT_CUDA=ON but no CUDA compiler and toolkit (with cuBLAS) were "
        "found: install the CUDA toolkit, put nvcc on PATH or set CUDACXX, or configure "
        "with -DDT_CUDA=OFF")
    endif()
    set(DT_CUDA_DESC "off (no CUDA compiler and toolkit found)")
  endif()
endif()

if(DT_HAVE_CUDA AND NOT _dt_nccl STREQUAL "OFF")
  find_path(DT_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_HOME
    PATH_SUFFIXES include)
  # NAMES: the Python wheels of NCCL ship only the versioned file.
  find_library(DT_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_HOME
    PATH_SUFFIXES lib lib64)
  if(DT_NCCL_INCLUDE_DIR AND DT_NCCL_LIBRARY)
    set(DT_HAVE_NCCL ON)
    set(DT_NCCL_DESC "NCCL (${DT_NCCL_LIBRARY})")
    add_library(dt_nccl INTERFACE)
    target_include_directories(dt_nccl INTERFACE ${DT_NCCL_INCLUDE_DIR})
    target_link_libraries(dt_nccl INTERFACE ${DT_NCCL_LIBRARY} CUDA::cudart_static)
  elseif(_dt_nccl STREQUAL "ON")
    message(FATAL_ERROR "NCCL was required (DT_NCCL/DT_CUDA=ON) but nccl.h or libnccl was "
      "not found next to the CUDA toolkit (${CUDAToolkit_LIBRARY_DIR}); set NCCL_HOME or "
      "configure with -DDT_NCCL=OFF")
  else()
    set(DT_NCCL_DESC "off (nccl.h or libnccl not found next to the toolkit)")
  endif()
elseif(_dt_nccl STREQUAL "ON" AND NOT DT_HAVE_CUDA)
  message(FATAL_ERROR "DT_NCCL=ON needs the CUDA backend (DT_CUDA)")
endif()
