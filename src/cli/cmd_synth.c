/* `dtrain data synth`: write a synthetic shard set (data/synth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "data/synth.h"

static int synth_usage(const char *msg)
{
    if (msg) fprintf(stderr, "dtrain data synth: %s\n", msg);
    fprintf(msg ? stderr : stdout,
            "usage: dtrain data synth --task T --out DIR [--n N] [--seed S]\ntasks:\n");
    dt_synth_list(msg ? stderr : stdout);
    return msg ? 2 : 0;
}

/* A positive integer option value, or -1. */
static long long positive(const char *s)
{
    char *end;
    const long long v = strtoll(s, &end, 10);
    return s[0] && *end == '\0' && v > 0 ? v : -1;
}

int dt_cmd_data_synth(int argc, char **argv)
{
    dt_synth_options o = {.seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return synth_usage(NULL);
        if (i + 1 >= argc) return synth_usage("an option lacks its value");
        const char *v = argv[++i];
        if (strcmp(a, "--task") == 0) o.task = v;
        else if (strcmp(a, "--out") == 0) o.out_dir = v;
        else if (strcmp(a, "--n") == 0 && positive(v) > 0) o.n = positive(v);
        else if (strcmp(a, "--seed") == 0 && positive(v) > 0) o.seed = (uint64_t)positive(v);
        else {
            fprintf(stderr, "dtrain data synth: bad option or value: %s %s\n", a, v);
            return synth_usage("");
        }
    }
    if (!o.task || !o.out_dir) return synth_usage("--task and --out are required");
    if (dt_synth_write(&o) != DT_OK) {
        fprintf(stderr, "dtrain data synth: %s\n", dt_error_message());
        return 1;
    }
    printf("dtrain data synth: wrote %s (task %s, seed %llu)\n", o.out_dir, o.task,
           (unsigned long long)o.seed);
    return 0;
}
