/* Status codes and the error message that goes with them.
 *
 * Library code never exits: a function that can fail returns a dt_status and
 * records a human-readable message with dt_error_set(). The message names the
 * file, key, layer, shard or rank involved and what was expected. Only the
 * executable decides what to do with it (print, abort the MPI job, exit). */
#ifndef DT_CORE_STATUS_H
#define DT_CORE_STATUS_H

#include <stdio.h>

typedef enum dt_status {
    DT_OK = 0,
    DT_ERR_ARG,      /* bad argument on the command line or to a function */
    DT_ERR_CONFIG,   /* malformed config, missing or unknown key, bad value */
    DT_ERR_IO,       /* file missing, unreadable, unwritable */
    DT_ERR_DATA,     /* corrupt data: checksum, truncated shard, bad label */
    DT_ERR_SHAPE,    /* tensor shapes that do not fit together */
    DT_ERR_NUMERIC,  /* NaN or Inf where a finite number was required */
    DT_ERR_NOMEM,    /* allocation failed */
    DT_ERR_MPI,      /* an MPI call failed */
    DT_ERR_BACKEND,  /* a device or backend library call failed */
    DT_ERR_INTERNAL, /* a broken invariant: a bug in dtrain */
    DT_STATUS_COUNT
} dt_status;

/* A short fixed name for a status ("config error", "I/O error", ...). */
const char *dt_status_name(dt_status s);

/* Record the message for the current thread and return `s`, so that callers
 * can write `return dt_error_set(DT_ERR_IO, "cannot open %s", path);`. */
dt_status dt_error_set(dt_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepend context to the current message ("layer fc1: " + old message). */
dt_status dt_error_prefix(dt_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message recorded last on this thread ("" if none). Owned by the
 * library; valid until the next dt_error_set on this thread. */
const char *dt_error_message(void);
void dt_error_clear(void);

/* Propagate a failing status. */
#define DT_TRY(expr)                                                           \
    do {                                                                       \
        const dt_status dt_try_s_ = (expr);                                    \
        if (dt_try_s_ != DT_OK) return dt_try_s_;                              \
    } while (0)

/* Internal invariants: print the expression and location, then abort. Never
 * used for user mistakes, which get a dt_status instead. */
#define DT_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) dt_assert_fail(#cond, __FILE__, __LINE__);                \
    } while (0)
__attribute__((noreturn)) void dt_assert_fail(const char *expr, const char *file, int line);

/* Allocation that reports out-of-memory through the status mechanism. The
 * returned memory is zeroed (calloc) and owned by the caller. */
void *dt_calloc(size_t n, size_t size);
char *dt_strdup(const char *s);

#endif
