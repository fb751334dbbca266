/* `dtrain data synth`: write a generated data set with a known answer.
 *
 *   dtrain data synth --task adding|copy --length T --out DIR
 *                     [--train N] [--test N] [--symbols K] [--seed S]
 *   dtrain data synth --task regression1d --out DIR [--train N] [--seed S]
 *
 * Each task is one entry of the table below: its name, a line for the
 * usage, whether it needs --length, and the generator (data/synth_seq.h for
 * the sequence tasks, data/synth.h for the others). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/status.h"
#include "data/synth.h"
#include "data/synth_seq.h"

typedef struct synth_args {
    const char *task;
    int n_given, seed_given;
    dt_synth_seq_options seq;
    dt_convert_options opt;
} synth_args;

typedef dt_status (*synth_fn)(const synth_args *a);

static dt_status run_adding(const synth_args *a) { return dt_synth_adding(&a->seq, &a->opt); }
static dt_status run_copy(const synth_args *a) { return dt_synth_copy(&a->seq, &a->opt); }

/* The 1-D regression set keeps its own defaults (1,000 points, seed 1)
 * unless --train or --seed are given. */
static dt_status run_regression1d(const synth_args *a)
{
    const dt_synth_options o = {.task = "regression1d", .out_dir = a->opt.out_dir,
                                .n = a->n_given ? a->seq.n_train : 0,
                                .seed = a->seed_given ? a->seq.seed : 1};
    return dt_synth_write(&o);
}

static const struct synth_task {
    const char *name, *about;
    int needs_length;
    synth_fn run;
} g_tasks[] = {
    {"adding", "sum of two marked values in a sequence (T, 2); regression", 1, run_adding},
    {"copy", "recall the symbol of step 0 after T-1 distractors (T, K+1); K classes", 1,
     run_copy},
    {"regression1d", "smooth 1-D function with noise and a few large peaks (1) -> (1)", 0,
     run_regression1d},
};
#define N_TASKS (int)(sizeof g_tasks / sizeof g_tasks[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: dtrain data synth --task TASK --out DIR [--length T] [--train N]\n"
               "                         [--test N] [--symbols K] [--seed S]\n"
               "(--length is required by the sequence tasks; --n is --train)\n\n"
               "tasks:\n");
    for (int i = 0; i < N_TASKS; i++)
        fprintf(f, "  %-13s %s\n", g_tasks[i].name, g_tasks[i].about);
    fprintf(f, "\ndefaults: --train 10000 --test 2000 --symbols 8 --seed 1234\n");
}

static int bad_usage(const char *what, const char *val)
{
    fprintf(stderr, "dtrain data synth: %s%s%s\n(see `dtrain data synth --help`)\n", what,
            val ? " " : "", val ? val : "");
    return 2;
}

/* A whole number in [lo, hi], or -1. */
static long long whole(const char *s, long long lo, long long hi)
{
    char *end;
    const long long v = strtoll(s, &end, 10);
    return s[0] && *end == '\0' && v >= lo && v <= hi ? v : -1;
}

static int parse(int argc, char **argv, synth_args *a)
{
    dt_convert_options_init(&a->opt);
    a->seq = (dt_synth_seq_options){.n_train = 10000, .n_test = 2000, .symbols = 8,
                                    .seed = 1234};
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (i + 1 >= argc) return bad_usage("option needs a value:", o);
        const char *v = argv[++i];
        long long n = 0;
        if (strcmp(o, "--task") == 0) a->task = v;
        else if (strcmp(o, "--out") == 0) a->opt.out_dir = v;
        else if (strcmp(o, "--length") == 0 && (n = whole(v, 2, 1 << 20)) > 0) a->seq.length = n;
        else if ((strcmp(o, "--train") == 0 || strcmp(o, "--n") == 0) &&
                 (n = whole(v, 1, 1 << 26)) > 0)
            a->seq.n_train = n, a->n_given = 1;
        else if (strcmp(o, "--test") == 0 && (n = whole(v, 0, 1 << 26)) >= 0)
            a->seq.n_test = n;
        else if (strcmp(o, "--symbols") == 0 && (n = whole(v, 2, 256)) > 0)
            a->seq.symbols = (int)n;
        else if (strcmp(o, "--seed") == 0 && (n = whole(v, 0, 1LL << 62)) >= 0)
            a->seq.seed = (uint64_t)n, a->seed_given = 1;
        else return bad_usage(n < 0 ? "value out of range or not a number:" : "unknown option",
                              n < 0 ? v : o);
    }
    if (!a->task) return bad_usage("--task is required", NULL);
    if (!a->opt.out_dir) return bad_usage("--out DIR is required", NULL);
    return 0;
}

int dt_cmd_data_synth(int argc, char **argv)
{
    synth_args a = {0};
    const int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    for (int i = 0; i < N_TASKS; i++) {
        if (strcmp(g_tasks[i].name, a.task) != 0) continue;
        if (g_tasks[i].needs_length && !a.seq.length)
            return bad_usage("--length is required by task", a.task);
        if (g_tasks[i].run(&a) != DT_OK) {
            fprintf(stderr, "dtrain data synth: %s\n", dt_error_message());
            return 1;
        }
        if (g_tasks[i].needs_length)
            printf("dtrain data synth: wrote %s (%lld train, %lld test samples of length "
                   "%lld)\n", a.opt.out_dir, (long long)a.seq.n_train, (long long)a.seq.n_test,
                   (long long)a.seq.length);
        else
            printf("dtrain data synth: wrote %s (task %s)\n", a.opt.out_dir, a.task);
        return 0;
    }
    fprintf(stderr, "dtrain data synth: unknown synthetic task '%s'\n", a.task);
    usage(stderr);
    return 2;
}
