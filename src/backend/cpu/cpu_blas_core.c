/* Choosing OpenBLAS's kernels on CPUs newer than the library.
 *
 * Debian's OpenBLAS is built for many CPUs and picks its kernels at start-up
 * from the CPU's family and model numbers. A model it does not know (0.3.21
 * predates e.g. Sapphire and Emerald Rapids) falls back to the generic
 * Prescott kernels, which run SGEMM about five times slower than the AVX-512
 * ones the CPU supports. The library reads OPENBLAS_CORETYPE when it loads,
 * before main(), so the fix is to set it and start the program again; this
 * file only decides whether that is worth doing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/backend.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);

static int core_is_one_of(const char *core, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(core, names[i]) == 0) return 1;
    return 0;
}

const char *dt_backend_cpu_blas_core_hint(void)
{
    static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                             "SapphireRapids", NULL};
    if (getenv("OPENBLAS_CORETYPE")) return NULL; /* the user decided */
    const char *core = openblas_get_corename();
    if (!core) return NULL;

    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx512 && !core_is_one_of(core, avx512_cores)) return "SkylakeX";
    if (avx2 && !avx512 && !core_is_one_of(core, avx2_cores)) return "Haswell";
    return NULL;
}

const char *dt_backend_cpu_blas_description(void)
{
    static char buf[160];
    const char *config = openblas_get_config(), *core = openblas_get_corename();
    snprintf(buf, sizeof buf, "%s; kernels %s%s", config ? config : "OpenBLAS",
             core ? core : "?", getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE)" : "");
    return buf;
}
