/* The dtrain subcommands: each takes its own argv (argv[0] is its name) and
 * returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef DT_CLI_COMMANDS_H
#define DT_CLI_COMMANDS_H

int dt_cmd_train(int argc, char **argv);
int dt_cmd_eval(int argc, char **argv);
int dt_cmd_info(int argc, char **argv);
int dt_cmd_bench(int argc, char **argv);
int dt_cmd_data(int argc, char **argv);
int dt_cmd_predict(int argc, char **argv);
/* `dtrain data synth` (cmd_data_synth.c). */
int dt_cmd_data_synth(int argc, char **argv);
int dt_cmd_sweep(int argc, char **argv);
int dt_cmd_ensemble(int argc, char **argv);

#endif
