/* The CUDA entry points of a build without CUDA: no devices, and opening
 * the backend explains how to get one. */
#include "backend/backend_cuda.h"

#ifndef DT_HAVE_CUDA

int dt_cuda_device_count(void) { return 0; }

dt_status dt_backend_cuda_open(int gpu, const dt_backend **out)
{
    *out = NULL;
    return dt_error_set(DT_ERR_CONFIG, "runtime.device: this dtrain was built without CUDA "
                        "(reconfigure with -DDT_CUDA=ON on a machine with the CUDA toolkit), "
                        "so GPU %d cannot be used; set runtime.device=cpu", gpu);
}

void *dt_backend_cuda_stream(void) { return NULL; }

int dt_backend_cuda_device(void) { return -1; }

dt_status dt_backend_cuda_check_table(void) { return DT_OK; }

void dt_backend_cuda_build_info(char *buf, int cap)
{
    if (cap > 0) buf[0] = '\0';
}

#else
typedef int dt_backend_cuda_none_unused; /* ISO C forbids an empty file */
#endif
