/* `dtrain train` and `dtrain eval`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/log.h"
#include "train/checkpoint.h"
#include "train/predict.h"
#include "train/ensemble.h"
#include "train/trainer.h"

static void print_result(const dt_session *s, const dt_eval_result *r, const char *what)
{
    if (s->loss.kind == DT_LOSS_CROSS_ENTROPY)
        DT_INFO("%s accuracy %.2f%% (loss %.4f) on %lld samples", what, 100.0 * r->accuracy,
                r->loss, (long long)r->count);
    else if (dt_loss_is_tokens(&s->loss))
        DT_INFO("%s token accuracy %.2f%%, loss %.4f, perplexity %.3f on %lld target tokens "
                "(%lld samples)", what, 100.0 * r->accuracy, r->loss, exp(r->loss),
                (long long)r->targets, (long long)r->count);
    else
        DT_INFO("%s %s %.6g on %lld samples", what, dt_loss_name(s->loss.kind), r->loss,
                (long long)r->count);
}

int dt_cmd_train(int argc, char **argv)
{
    static const char usage[] = "dtrain train CONFIG [key=value ...]";
    dt_cli cli;
    int rc = dt_cli_parse(argc, argv, usage, &cli);
    if (rc || cli.help) return rc;

    dt_comm *comm;
    dt_session *s;
    if ((rc = dt_cli_start(&argc, &argv, &cli, DT_NEED_DATA, &comm, &s))) return rc;

    dt_trainer *t = NULL;
    dt_eval_result final;
    char *run_dir = NULL;
    dt_status st = dt_trainer_create(s, &t);
    if (st == DT_OK) st = dt_trainer_fit(t, &final, &run_dir);
    dt_trainer_destroy(t);
    if (st != DT_OK) {
        if (run_dir && dt_comm_rank(comm) == 0)
            fprintf(stderr, "dtrain: run directory: %s\n", run_dir);
        free(run_dir);
        return dt_cli_fail(NULL, comm, s);
    }
    print_result(s, &final, "test");
    DT_INFO("run directory: %s", run_dir);
    free(run_dir);
    dt_cli_finish(comm, s);
    return 0;
}

/* `dtrain eval CONFIG --ensemble DIR`: the members of an ensemble
 * directory, combined, on the test split. */
static int eval_ensemble(int *argc, char ***argv, const dt_cli *cli, const char *dir)
{
    dt_comm *world;
    if (dt_cli_start_world(argc, argv, &world)) return 1;
    if (dt_ensemble_evaluate(world, cli->config, cli->overrides, cli->n_overrides, dir) != DT_OK)
        return dt_cli_fail("eval", world, NULL);
    dt_cli_finish(world, NULL);
    return 0;
}

int dt_cmd_eval(int argc, char **argv)
{
    static const char usage[] = "dtrain eval CONFIG --checkpoint FILE [--predictions FILE] "
                                "[key=value ...]\n"
                                "       dtrain eval CONFIG --ensemble DIR [key=value ...]";
    const char *ensemble = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--ensemble") == 0) { /* taken out before the common parse */
            ensemble = argv[i + 1];
            for (int j = i; j + 2 < argc; j++) argv[j] = argv[j + 2];
            argc -= 2;
            break;
        }
    dt_cli cli;
    int rc = dt_cli_parse(argc, argv, usage, &cli);
    if (rc || cli.help) return rc;
    if (ensemble) return eval_ensemble(&argc, &argv, &cli, ensemble);
    if (!cli.checkpoint) {
        fprintf(stderr, "dtrain eval: missing --checkpoint FILE\nusage: %s\n", usage);
        return 2;
    }

    dt_comm *comm;
    dt_session *s;
    if ((rc = dt_cli_start(&argc, &argv, &cli, DT_NEED_TEST_ONLY, &comm, &s))) return rc;

    dt_trainer *t = NULL;
    dt_ckpt_meta meta;
    dt_eval_result r;
    dt_status st = dt_trainer_create(s, &t);
    if (st == DT_OK) st = dt_checkpoint_load(cli.checkpoint, s->model, NULL, &meta);
    if (st == DT_OK)
        st = dt_checkpoint_check_tokenizer(cli.checkpoint, &meta, &s->info, s->data_path,
                                           "evaluating");
    st = dt_comm_agree(comm, st);
    if (st == DT_OK) st = dt_trainer_evaluate(t, s->test, &r);
    if (st == DT_OK && cli.predictions)
        st = dt_comm_agree(comm, dt_comm_rank(comm) == 0
                                     ? dt_predictions_write(s, DT_PREDICTIONS_SAMPLES,
                                                            cli.predictions)
                                     : DT_OK);
    dt_trainer_destroy(t);
    if (st != DT_OK) return dt_cli_fail(NULL, comm, s);

    DT_INFO("checkpoint %s (step %lld, epoch %lld)", cli.checkpoint, (long long)meta.step,
            (long long)meta.epoch);
    print_result(s, &r, "test");
    if (s->loss.positions > 1) DT_INFO("test mean IoU %.4f", r.mean_iou);
    if (cli.predictions) DT_INFO("predictions of %d test samples: %s", DT_PREDICTIONS_SAMPLES,
                                 cli.predictions);
    dt_cli_finish(comm, s);
    return 0;
}
