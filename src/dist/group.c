/* Group plans and the split of the world into group communicators. */
#include "dist/group.h"

dt_status dt_group_plan_make(int world, int rank, int requested, int n_jobs,
                             dt_group_plan *out)
{
    if (world < 1 || rank < 0 || rank >= world)
        return dt_error_set(DT_ERR_ARG, "rank %d is not in a world of %d", rank, world);
    int g = requested;
    if (g < 0)
        return dt_error_set(DT_ERR_ARG, "--groups %d: expected a positive number of groups", g);
    if (g == 0) { /* derive: as many groups as jobs, as far as the world divides */
        const int cap = n_jobs < 1 ? 1 : n_jobs;
        g = 1;
        for (int d = 1; d <= world && d <= cap; d++)
            if (world % d == 0) g = d;
    }
    if (g > world)
        return dt_error_set(DT_ERR_ARG, "%d groups need at least %d ranks, the world has %d "
                            "(start more ranks or ask for fewer groups)", g, g, world);
    if (world % g != 0)
        return dt_error_set(DT_ERR_ARG, "%d groups do not divide the world of %d ranks: the "
                            "group size would be %d.%d (use a divisor of %d)", g, world,
                            world / g, (world % g) * 10 / g, world);
    out->world = world;
    out->n_groups = g;
    out->group_size = world / g;
    out->group = rank / out->group_size;
    out->rank_in_group = rank % out->group_size;
    return DT_OK;
}

int dt_group_of_job(const dt_group_plan *p, int job) { return job % p->n_groups; }

int dt_group_leader(const dt_group_plan *p, int group) { return group * p->group_size; }

dt_status dt_group_split(dt_comm *world, const dt_group_plan *p, dt_comm **out)
{
    return dt_comm_split(world, p->group, p->rank_in_group, out);
}
