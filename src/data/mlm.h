/* Dynamic masking for masked-language-model pretraining (BERT).
 *
 * Token shard sets store the token ids only; the targets of a masked LM are
 * made each time a sample is read. Every position that holds a real token
 * (not [PAD], [CLS], [SEP] or [MASK]) is chosen with probability `prob`; a
 * chosen position becomes [MASK] with probability `mask`, a token drawn
 * uniformly from the non-special vocabulary with probability `random`, and
 * keeps its token otherwise. The target is the original id at chosen
 * positions and -1 (no target) everywhere else.
 *
 * The draws are Philox keyed by (seed, DT_RNG_MASK, key, row) and the
 * position, where `key` is the epoch while training and DT_MLM_EVAL_KEY for
 * evaluation: a sample's mask depends on nothing else, so it is the same on
 * any number of ranks, in a resumed run, and, for the test split, in every
 * evaluation (held-out losses stay comparable across epochs). */
#ifndef DT_DATA_MLM_H
#define DT_DATA_MLM_H

#include <stdint.h>

#include "core/status.h"

/* The special token ids every dtrain tokenizer reserves. */
enum dt_special_token {
    DT_TOKEN_PAD = 0,
    DT_TOKEN_UNK = 1,
    DT_TOKEN_CLS = 2,
    DT_TOKEN_SEP = 3,
    DT_TOKEN_MASK = 4,
    DT_TOKEN_SPECIALS = 5 /* ids below this are special */
};

/* The key of the fixed masking used by every evaluation. */
#define DT_MLM_EVAL_KEY 0xffffffffu

typedef struct dt_mlm {
    double prob;   /* share of eligible positions chosen (data.mlm.prob) */
    double mask;   /* of those, share set to [MASK] */
    double random; /* of those, share set to a random token; the rest kept */
    int64_t vocab; /* ids are in [0, vocab); random tokens in [5, vocab) */
    uint64_t seed;
} dt_mlm;

/* Defaults 0.15 / 0.8 / 0.1 for the given vocabulary and seed. */
void dt_mlm_init(dt_mlm *m, int64_t vocab, uint64_t seed);

/* Check the shares and the vocabulary; the message names the key. */
dt_status dt_mlm_check(const dt_mlm *m);

/* Mask n samples of t tokens in place. x: (n, t) token ids as floats; y:
 * (n, t) gets the targets (original id or -1). rows[i] is sample i's row in
 * its split, the key of its draws together with `key`. */
void dt_mlm_apply(const dt_mlm *m, uint32_t key, const int64_t *rows, int n, int64_t t,
                  float *x, float *y);

/* Whether a token may be chosen: a real token, [UNK] included. */
static inline int dt_mlm_eligible(int64_t id)
{
    return id != DT_TOKEN_PAD && id != DT_TOKEN_CLS && id != DT_TOKEN_SEP && id != DT_TOKEN_MASK;
}

#endif
