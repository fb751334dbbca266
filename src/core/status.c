/* Thread-local error messages and the names of status codes. */
#include "core/status.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DT_ERROR_CAP 2048

static _Thread_local char error_buf[DT_ERROR_CAP];

const char *dt_status_name(dt_status s)
{
    static const char *const names[DT_STATUS_COUNT] = {
        [DT_OK] = "ok",
        [DT_ERR_ARG] = "argument error",
        [DT_ERR_CONFIG] = "config error",
        [DT_ERR_IO] = "I/O error",
        [DT_ERR_DATA] = "data error",
        [DT_ERR_SHAPE] = "shape error",
        [DT_ERR_NUMERIC] = "numeric error",
        [DT_ERR_NOMEM] = "out of memory",
        [DT_ERR_MPI] = "MPI error",
        [DT_ERR_BACKEND] = "backend error",
        [DT_ERR_INTERNAL] = "internal error",
    };
    if ((int)s < 0 || s >= DT_STATUS_COUNT) return "unknown error";
    return names[s];
}

dt_status dt_error_set(dt_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return s;
}

dt_status dt_error_prefix(dt_status s, const char *fmt, ...)
{
    char prefix[512], old[DT_ERROR_CAP];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    const size_t plen = strnlen(prefix, sizeof prefix);
    memcpy(error_buf, prefix, plen);
    const size_t room = sizeof error_buf - plen - 1;
    const size_t olen = strnlen(old, room);
    memcpy(error_buf + plen, old, olen);
    error_buf[plen + olen] = '\0';
    return s;
}

const char *dt_error_message(void) { return error_buf; }

void dt_error_clear(void) { error_buf[0] = '\0'; }

void dt_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "dtrain: internal error: assertion `%s' failed at %s:%d\n", expr,
            file, line);
    abort();
}

void *dt_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "dtrain: out of memory allocating %zu x %zu bytes\n", n, size);
        abort();
    }
    return p;
}

char *dt_strdup(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *d = dt_calloc(n, 1);
    memcpy(d, s, n);
    return d;
}
