/* One leveled logger for the whole process.
 *
 * By default only rank 0 writes to the terminal (stderr for warnings and
 * errors, stdout otherwise); every rank can also append to a file of its own
 * (rank-N.log in the run directory). Messages carry the rank when the world
 * has more than one. */
#ifndef DT_CORE_LOG_H
#define DT_CORE_LOG_H

typedef enum dt_log_level {
    DT_LOG_DEBUG = 0,
    DT_LOG_INFO,
    DT_LOG_WARN,
    DT_LOG_ERROR,
    DT_LOG_OFF
} dt_log_level;

/* Set rank and world size (for prefixes and terminal filtering) and the
 * threshold for terminal output. Safe to call again once MPI is up. */
void dt_log_init(int rank, int world_size, dt_log_level level);

/* Also append every message at or above `level` to `path` (NULL closes). */
int dt_log_open_file(const char *path, dt_log_level level);

/* Parse "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int dt_log_level_parse(const char *s);

/* Whether this rank prints to the terminal at all (rank 0 by default). */
int dt_log_is_terminal_rank(void);
/* Whether a message of `level` would reach this rank's terminal. */
int dt_log_terminal_enabled(dt_log_level level);

void dt_log(dt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print to the terminal from any rank, bypassing the rank-0 filter: for an
 * error that only this rank saw. */
void dt_log_any_rank(dt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define DT_DEBUG(...) dt_log(DT_LOG_DEBUG, __VA_ARGS__)
#define DT_INFO(...) dt_log(DT_LOG_INFO, __VA_ARGS__)
#define DT_WARN(...) dt_log(DT_LOG_WARN, __VA_ARGS__)
#define DT_ERROR(...) dt_log(DT_LOG_ERROR, __VA_ARGS__)

#endif
