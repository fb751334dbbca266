/* Rank groups: one launch, several trainings side by side.
 *
 * The world is cut into G groups of equal size, ranks in blocks (group g
 * holds world ranks g*S .. g*S+S-1, so a group tends to stay on one node);
 * each group trains data parallel on a communicator of its own and never
 * waits on another group. Jobs (configurations, folds, members) go to
 * groups by static round robin: job j runs on group j mod G, jobs of one
 * group in increasing order. */
#ifndef DT_DIST_GROUP_H
#define DT_DIST_GROUP_H

#include "dist/comm.h"

typedef struct dt_group_plan {
    int world, n_groups, group_size;
    int group;         /* this rank's group */
    int rank_in_group; /* this rank's rank within it */
} dt_group_plan;

/* The plan for `rank` of `world` with `requested` groups (0: derive from
 * the number of jobs: the largest divisor of the world not above n_jobs).
 * Errors: more groups than ranks, a group size that does not divide the
 * world, fewer than one group. */
dt_status dt_group_plan_make(int world, int rank, int requested, int n_jobs,
                             dt_group_plan *out);

/* The group that runs job `job`. */
int dt_group_of_job(const dt_group_plan *p, int job);

/* World rank of the first rank of group `group` (its leader). */
int dt_group_leader(const dt_group_plan *p, int group);

/* Collective over `world`: this rank's group communicator. */
dt_status dt_group_split(dt_comm *world, const dt_group_plan *p, dt_comm **out);

#endif
