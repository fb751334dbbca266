/* Creating the run directory and writing its manifest and metrics. */
#include "train/rundir.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>
#include <zlib.h>

#include "backend/backend.h"
#include "core/log.h"
#include "core/version.h"

char *openblas_get_config(void);

static dt_status mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0775) != 0 && errno != EEXIST)
            return dt_error_set(DT_ERR_IO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0775) != 0 && errno != EEXIST)
        return dt_error_set(DT_ERR_IO, "cannot create directory %s: %s", tmp, strerror(errno));
    return DT_OK;
}

/* Create runs/<config stem>-<yyyymmdd-hhmmss>[-k] (or runs/<name> when
 * given). The last component is made with a plain mkdir, which fails if it
 * exists, so two runs started in the same second never share a directory. */
static dt_status create_path(const dt_session *s, char *out, size_t cap)
{
    DT_TRY(mkdir_p(s->ts.run_root));
    if (s->ts.run_name[0]) {
        snprintf(out, cap, "%s/%s", s->ts.run_root, s->ts.run_name);
        return mkdir_p(out);
    }
    const char *base = strrchr(s->config_path, '/');
    base = base ? base + 1 : s->config_path;
    char stem[128];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';

    char stamp[32];
    const time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
    snprintf(out, cap, "%s/%s-%s", s->ts.run_root, stem, stamp);
    for (int k = 2; mkdir(out, 0775) != 0; k++) {
        if (errno != EEXIST || k > 10000)
            return dt_error_set(DT_ERR_IO, "cannot create run directory %s: %s", out,
                                strerror(errno));
        snprintf(out, cap, "%s/%s-%s-%d", s->ts.run_root, stem, stamp, k);
    }
    return DT_OK;
}

static cJSON *library_versions(void)
{
    cJSON *lib = cJSON_CreateObject();
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    char *nl = strchr(mpi, '\n');
    if (nl) *nl = '\0';
    cJSON_AddStringToObject(lib, "mpi", mpi);
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char h5[32];
    snprintf(h5, sizeof h5, "%u.%u.%u", maj, min, rel);
    cJSON_AddStringToObject(lib, "hdf5", h5);
    cJSON_AddStringToObject(lib, "openblas", openblas_get_config());
    cJSON_AddStringToObject(lib, "libyaml", yaml_get_version_string());
    cJSON_AddStringToObject(lib, "cjson", cJSON_Version());
    cJSON_AddStringToObject(lib, "zlib", zlibVersion());
    return lib;
}

static dt_status write_manifest(const dt_session *s, const char *dir, const char *cmdline,
                                const char *hosts)
{
    cJSON *m = cJSON_CreateObject();
    char stamp[64];
    const time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
    cJSON_AddStringToObject(m, "format", "dtrain-run");
    cJSON_AddNumberToObject(m, "version", 1);
    cJSON_AddStringToObject(m, "dtrain_version", DT_VERSION);
    cJSON_AddStringToObject(m, "git_commit", DT_GIT_COMMIT);
    cJSON_AddStringToObject(m, "started", stamp);
    cJSON_AddStringToObject(m, "command", cmdline);
    cJSON_AddStringToObject(m, "config", s->config_path);
    cJSON_AddStringToObject(m, "hosts", hosts);
    cJSON_AddNumberToObject(m, "world_size", dt_comm_size(s->comm));
    cJSON_AddNumberToObject(m, "threads_per_rank", s->threads);
    cJSON_AddNumberToObject(m, "seed", (double)s->seed);
    cJSON_AddStringToObject(m, "backend", s->be ? s->be->name : "cpu");
    cJSON_AddStringToObject(m, "data", s->data_path);
    cJSON_AddStringToObject(m, "data_name", s->info.name);
    cJSON_AddStringToObject(m, "data_source", s->info.source);
    cJSON_AddNumberToObject(m, "parameters", (double)s->model->n_params);
    cJSON_AddItemToObject(m, "libraries", library_versions());

    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text = cJSON_Print(m);
    FILE *f = fopen(path, "w");
    const int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f) fclose(f);
    free(text);
    cJSON_Delete(m);
    return ok ? DT_OK : dt_error_set(DT_ERR_IO, "cannot write %s", path);
}

static dt_status write_config(const dt_session *s, const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) return dt_error_set(DT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    const dt_status st = dt_cfg_write_yaml(s->cfg, f);
    fclose(f);
    return st;
}

/* Rank 0's part: choose, create, write. */
static dt_status create_on_root(dt_session *s, const char *cmdline, const char *hosts,
                                dt_rundir *r)
{
    DT_TRY(create_path(s, r->path, sizeof r->path));
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/checkpoints", r->path);
    DT_TRY(mkdir_p(sub));
    DT_TRY(write_config(s, r->path));
    DT_TRY(write_manifest(s, r->path, cmdline, hosts));
    snprintf(sub, sizeof sub, "%s/metrics.jsonl", r->path);
    r->metrics = fopen(sub, "a");
    if (!r->metrics) return dt_error_set(DT_ERR_IO, "cannot write %s", sub);
    return DT_OK;
}

dt_status dt_rundir_create(dt_session *s, const char *cmdline, dt_rundir *r)
{
    char hosts[1024];
    memset(r, 0, sizeof *r);
    DT_TRY(dt_comm_hosts(s->comm, hosts, sizeof hosts));
    dt_status st = DT_OK;
    if (dt_comm_rank(s->comm) == 0) st = create_on_root(s, cmdline, hosts, r);
    DT_TRY(dt_comm_agree(s->comm, st));
    DT_TRY(dt_comm_bcast(s->comm, r->path, sizeof r->path, 0));

    /* Ranks on other hosts may not share the file system: make sure the
     * directory exists wherever this rank writes its log. */
    DT_TRY(mkdir_p(r->path));
    char log[1200];
    snprintf(log, sizeof log, "%s/rank-%d.log", r->path, dt_comm_rank(s->comm));
    if (dt_log_open_file(log, DT_LOG_DEBUG) != 0)
        return dt_error_set(DT_ERR_IO, "rank %d: cannot write %s", dt_comm_rank(s->comm), log);
    return DT_OK;
}

void dt_rundir_close(dt_rundir *r)
{
    if (r->metrics) fclose(r->metrics);
    r->metrics = NULL;
    dt_log_open_file(NULL, DT_LOG_DEBUG);
}

void dt_rundir_metric(dt_rundir *r, const char *json)
{
    if (!r->metrics) return;
    fprintf(r->metrics, "%s\n", json);
    fflush(r->metrics);
}
