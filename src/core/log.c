/* The leveled logger: terminal on rank 0, optional per-rank file. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct {
    int rank, world;
    dt_log_level term_level, file_level;
    FILE *file;
    pthread_mutex_t lock;
} g_log = {0, 1, DT_LOG_INFO, DT_LOG_DEBUG, NULL, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void dt_log_init(int rank, int world_size, dt_log_level level)
{
    g_log.rank = rank;
    g_log.world = world_size;
    g_log.term_level = level;
}

int dt_log_open_file(const char *path, dt_log_level level)
{
    pthread_mutex_lock(&g_log.lock);
    if (g_log.file) fclose(g_log.file);
    g_log.file = path ? fopen(path, "a") : NULL;
    g_log.file_level = level;
    pthread_mutex_unlock(&g_log.lock);
    return path && !g_log.file ? -1 : 0;
}

int dt_log_level_parse(const char *s)
{
    for (int i = 0; i <= DT_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

int dt_log_is_terminal_rank(void) { return g_log.rank == 0; }

int dt_log_terminal_enabled(dt_log_level level)
{
    return g_log.rank == 0 && level >= g_log.term_level;
}

static void emit(dt_log_level level, int to_term, const char *fmt, va_list ap)
{
    char msg[4096], prefix[64] = "";
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (g_log.world > 1) snprintf(prefix, sizeof prefix, "[rank %d] ", g_log.rank);
    const char *tag = level >= DT_LOG_WARN ? (level == DT_LOG_WARN ? "warning: " : "error: ")
                                           : "";

    pthread_mutex_lock(&g_log.lock);
    if (to_term && level >= g_log.term_level) {
        FILE *out = level >= DT_LOG_WARN ? stderr : stdout;
        fprintf(out, "%s%s%s\n", level >= DT_LOG_WARN ? prefix : "", tag, msg);
        fflush(out);
    }
    if (g_log.file && level >= g_log.file_level) {
        const time_t now = time(NULL);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", localtime(&now));
        fprintf(g_log.file, "%s %-5s %s\n", stamp, level_names[level], msg);
        fflush(g_log.file);
    }
    pthread_mutex_unlock(&g_log.lock);
}

void dt_log(dt_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, g_log.rank == 0, fmt, ap);
    va_end(ap);
}

void dt_log_any_rank(dt_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, 1, fmt, ap);
    va_end(ap);
}
