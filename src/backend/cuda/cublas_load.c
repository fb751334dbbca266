/* Loading cuBLAS with dlopen and resolving the calls the backend uses. */
#include "backend/cuda/cublas_load.h"

#include <dlfcn.h>
#include <stdio.h>

static dt_cublas_api g_api;
static int g_loaded;

/* The exported names (cublas_v2.h maps several calls to *_v2 symbols). */
static int resolve(void *lib, char *why, int cap)
{
    static const struct {
        const char *symbol;
        size_t offset;
    } calls[] = {
        {"cublasCreate_v2", offsetof(dt_cublas_api, cublasCreate)},
        {"cublasSetStream_v2", offsetof(dt_cublas_api, cublasSetStream)},
        {"cublasSetMathMode", offsetof(dt_cublas_api, cublasSetMathMode)},
        {"cublasSgemm_v2", offsetof(dt_cublas_api, cublasSgemm)},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        void *f = dlsym(lib, calls[i].symbol);
        if (!f) {
            snprintf(why, (size_t)cap, "cuBLAS has no %s: %s", calls[i].symbol, dlerror());
            return 0;
        }
        *(void **)((char *)&g_api + calls[i].offset) = f;
    }
    return 1;
}

const dt_cublas_api *dt_cublas_load(char *why, int cap)
{
    if (g_loaded) return &g_api;
    void *lib = dlopen(DT_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen(DT_CUBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, (size_t)cap, "cannot load cuBLAS (%s, or %s): %s (hint: put the CUDA "
                 "toolkit's library folder on LD_LIBRARY_PATH)", DT_CUBLAS_SONAME,
                 DT_CUBLAS_PATH, dlerror());
        return NULL;
    }
    if (!resolve(lib, why, cap)) return NULL;
    g_loaded = 1;
    return &g_api;
}
