/* Generated sequence tasks with a known answer and a long-range dependency,
 * written as shard sets (see data/convert.h).
 *
 *   adding  x (T, 2): channel 0 uniform in [0, 1), channel 1 marks two
 *           steps (one in each half) with 1; y = the sum of the two marked
 *           values (regression). Predicting 1 always gives MSE 1/6.
 *   copy    x (T, K+1): every step holds one of K symbols (one-hot in the
 *           first K channels); step 0 also sets channel K, marking it;
 *           y = the symbol at step 0 (K classes): the model must carry it
 *           past T-1 random distractors. Chance accuracy is 1/K.
 * Samples are drawn from Philox keyed by (seed, split, sample), so a set is
 * the same on every machine. */
#ifndef DT_DATA_SYNTH_SEQ_H
#define DT_DATA_SYNTH_SEQ_H

#include <stdint.h>

#include "core/status.h"
#include "data/convert.h"

typedef struct dt_synth_seq_options {
    int64_t length;          /* T */
    int64_t n_train, n_test; /* samples per split */
    int symbols;             /* copy: K */
    uint64_t seed;
} dt_synth_seq_options;

dt_status dt_synth_adding(const dt_synth_seq_options *s, const dt_convert_options *o);
dt_status dt_synth_copy(const dt_synth_seq_options *s, const dt_convert_options *o);

#endif
