/* The CUDA backend, seen from C code that must also build without CUDA.
 *
 * One process drives one GPU (one MPI rank per GPU), so the backend is a
 * process-wide object: opened once on a device, with one compute stream
 * and one cuBLAS handle. In a build without CUDA these functions exist too:
 * the device count is 0 and opening fails with a message saying so. */
#ifndef DT_BACKEND_BACKEND_CUDA_H
#define DT_BACKEND_BACKEND_CUDA_H

#include "backend/backend.h"

/* Visible CUDA devices; 0 when there is none, no driver, or no CUDA in this
 * build (any error of the runtime counts as none). */
int dt_cuda_device_count(void);

/* Open the backend on device `gpu` (0-based among the visible devices),
 * check that its ops table is complete, and return it. Opening again on the
 * same device returns the same table; on another device it fails. */
dt_status dt_backend_cuda_open(int gpu, const dt_backend **out);

/* The open backend's compute stream (a cudaStream_t), or NULL. Kernels of
 * every op run on it in order; other streams order themselves after it
 * with events. */
void *dt_backend_cuda_stream(void);

/* dt_backend_check_complete on the CUDA backend's table, without opening
 * a device (so a machine without a GPU can check it); DT_OK in a build
 * without CUDA. */
dt_status dt_backend_cuda_check_table(void);

/* The open device, or -1. */
int dt_backend_cuda_device(void);

/* "cuda (CUDA 13.0, cuBLAS, archs 90)" or "" when not built. */
void dt_backend_cuda_build_info(char *buf, int cap);

#endif
