/* Gradient clipping after the all-reduce, under mpiexec (2 or 3 ranks).
 *
 * Each rank holds its own partial gradient; after the sum over ranks every
 * rank clips by the global norm and takes a LAMB step (whose trust ratios
 * use norms too). Checked: the norm before clipping equals the norm of the
 * summed gradient computed in double on every rank (1e-6 relative), the
 * clipped gradient has norm c (1e-5 relative), and parameters, optimizer
 * state and gradients are bitwise the same on every rank after 5 steps. */
#include <math.h>
#include <string.h>

#include "core/config.h"
#include "core/rng.h"
#include "dist/comm.h"
#include "optim/optim.h"
#include "test_util.h"

#define N 1000

int main(int argc, char **argv)
{
    dt_comm *comm;
    if (dt_comm_init_world(&argc, &argv, &comm) != DT_OK) return 1;
    const int rank = dt_comm_rank(comm), world = dt_comm_size(comm);
    dt_cfg *root;
    dt_optim *o = NULL;
    CHECK_OK(dt_cfg_load_string("optim: {kind: lamb, lr: 0.01, weight_decay: 0.01, "
                                "clip_grad_norm: 0.5}\n", "clip.yaml", &root));
    CHECK_OK(dt_optim_create(dt_cfg_get(root, "optim"), dt_backend_cpu(), N, 100, &o));
    const dt_optim_group groups[2] = {{0, 600, 0}, {600, 400, 1}};
    if (o) dt_optim_set_groups(o, groups, 2);

    static float p[N], g[N];
    const dt_rng init = dt_rng_make(1, DT_RNG_USER, 0, 0);
    dt_rng_fill_normal(&init, 0, p, N, 0.0f, 1.0f);
    for (int t = 0; o && t < 5; t++) {
        const dt_rng r = dt_rng_make(2, DT_RNG_USER, (uint32_t)t, (uint32_t)rank);
        dt_rng_fill_normal(&r, 0, g, N, 0.0f, 1.0f);
        CHECK_OK(dt_comm_allreduce_f32(comm, g, N));
        double want = 0;
        for (int i = 0; i < N; i++) want += (double)g[i] * g[i];
        want = sqrt(want);
        CHECK_CLOSE(dt_optim_clip_grads(o, g), want, 1e-6, 0.0);
        double after = 0;
        for (int i = 0; i < N; i++) after += (double)g[i] * g[i];
        CHECK_CLOSE(sqrt(after), 0.5, 1e-5, 0.0);
        dt_optim_step(o, p, g);
    }
    CHECK_OK(dt_comm_check_same(comm, p, sizeof p, "parameters"));
    CHECK_OK(dt_comm_check_same(comm, g, sizeof g, "clipped gradients"));
    for (int i = 0; o && i < o->n_state; i++)
        CHECK_OK(dt_comm_check_same(comm, o->state[i], N * sizeof(float), o->state_names[i]));
    if (rank == 0) printf("clipping on %d ranks: identical after 5 steps\n", world);

    int64_t failed = dt_test_result(); /* fail on every rank if on any */
    dt_comm_allreduce_max_i64(comm, &failed, 1);
    dt_optim_destroy(o);
    dt_cfg_free(root);
    dt_comm_destroy(comm, 1);
    return (int)failed;
}
