/* The backend table checks, which run without a GPU: the CPU backend is
 * complete; a table with any single op missing is rejected with an error
 * naming that op (the names come from backend.h at build time); the op
 * list is the struct's; and the CUDA entry points answer sensibly where no
 * GPU (or no CUDA) is present: no devices, and opening fails with a
 * message instead of crashing. */
#include <string.h>

#include "backend/backend.h"
#include "backend/backend_cuda.h"
#include "test_util.h"

static void test_cpu_complete(void)
{
    CHECK_OK(dt_backend_check_complete(dt_backend_cpu()));
    CHECK(dt_backend_op_count() * (int)sizeof(void (*)(void)) ==
          (int)(sizeof(dt_backend) - offsetof(dt_backend, alloc)));
    CHECK(strcmp(dt_backend_op_name(0), "alloc") == 0);
    CHECK(strcmp(dt_backend_op_name(dt_backend_op_count()), "?") == 0);
    int seen_gemm = 0, seen_sync = 0;
    for (int i = 0; i < dt_backend_op_count(); i++) {
        seen_gemm |= strcmp(dt_backend_op_name(i), "gemm") == 0;
        seen_sync |= strcmp(dt_backend_op_name(i), "sync") == 0;
    }
    CHECK(seen_gemm && seen_sync);
}

/* Knock out each op in turn from a copy of the CPU table. */
static void test_each_missing_op(void)
{
    for (int i = 0; i < dt_backend_op_count(); i++) {
        dt_backend t = *dt_backend_cpu();
        t.name = "test";
        void (*none)(void) = NULL;
        memcpy((unsigned char *)&t + offsetof(dt_backend, alloc) + (size_t)i * sizeof none,
               &none, sizeof none);
        dt_error_clear();
        const dt_status s = dt_backend_check_complete(&t);
        CHECK(s == DT_ERR_INTERNAL);
        char want[96];
        snprintf(want, sizeof want, "lacks the op '%s'", dt_backend_op_name(i));
        if (!strstr(dt_error_message(), want) || !strstr(dt_error_message(), "'test'")) {
            fprintf(stderr, "op %d: message '%s' does not name '%s'\n", i, dt_error_message(),
                    dt_backend_op_name(i));
            dt_test_failures++;
        }
    }
}

/* The CUDA table has every op (checked here too, so a machine without a
 * GPU finds a missing one). */
static void test_cuda_table_complete(void)
{
    CHECK_OK(dt_backend_cuda_check_table());
}

static void test_cuda_without_gpu(void)
{
    const int n = dt_cuda_device_count();
    CHECK(n >= 0);
    if (n > 0) return; /* a GPU machine: the gpu tests cover it */
    const dt_backend *be = (const dt_backend *)1;
    const dt_status s = dt_backend_cuda_open(0, &be);
    CHECK(s != DT_OK);
    CHECK(be == NULL);
    /* Either no GPU, or (checked first) an op the CUDA backend still lacks. */
    CHECK(strstr(dt_error_message(), "runtime.device") != NULL ||
          strstr(dt_error_message(), "no CUDA GPU") != NULL ||
          strstr(dt_error_message(), "lacks the op") != NULL);
    CHECK(dt_backend_cuda_stream() == NULL);
    CHECK(dt_backend_cuda_device() == -1);
    printf("without a GPU: %s\n", dt_error_message());
}

int main(void)
{
    test_cpu_complete();
    test_each_missing_op();
    test_cuda_table_complete();
    test_cuda_without_gpu();
    return dt_test_result();
}
