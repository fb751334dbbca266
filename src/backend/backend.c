/* What every backend shares: the check that a backend's ops table is
 * complete, and the list of backends and communicators built in.
 *
 * The check walks the table as an array of function pointers from the
 * member after `device` to the end of the struct; the op names come from a
 * header generated from backend.h at build time, and a static assertion
 * keeps the two in step (it fails if a member that is not a function
 * pointer is added). So an op added to backend.h is covered without
 * touching this file. */
#include "backend/backend.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend_cuda.h"
#include "backend/backend_ops.h"

typedef void (*dt_op_slot)(void);

#define DT_FIRST_OP_OFFSET offsetof(dt_backend, alloc)

_Static_assert((sizeof(dt_backend) - DT_FIRST_OP_OFFSET) ==
                   DT_BACKEND_OP_COUNT * sizeof(dt_op_slot),
               "every member of dt_backend after `device` must be a function pointer "
               "(the op names are generated from backend.h)");
_Static_assert(DT_FIRST_OP_OFFSET == offsetof(dt_backend, device) + sizeof(void *) ||
                   DT_FIRST_OP_OFFSET == offsetof(dt_backend, device) + sizeof(dt_device),
               "`alloc` must be the first op, right after `device`");

int dt_backend_op_count(void) { return DT_BACKEND_OP_COUNT; }

const char *dt_backend_op_name(int i)
{
    return i >= 0 && i < DT_BACKEND_OP_COUNT ? dt_backend_op_names[i] : "?";
}

dt_status dt_backend_check_complete(const dt_backend *be)
{
    /* memcpy out of the table: reading function pointers through another
     * type of pointer would break aliasing rules. */
    const unsigned char *base = (const unsigned char *)be + DT_FIRST_OP_OFFSET;
    for (int i = 0; i < DT_BACKEND_OP_COUNT; i++) {
        dt_op_slot slot;
        memcpy(&slot, base + (size_t)i * sizeof slot, sizeof slot);
        if (!slot)
            return dt_error_set(DT_ERR_INTERNAL, "backend '%s' lacks the op '%s' (op %d of %d "
                                "in backend/backend.h): it cannot run models on this device "
                                "until that op is implemented", be->name ? be->name : "?",
                                dt_backend_op_names[i], i + 1, DT_BACKEND_OP_COUNT);
    }
    return DT_OK;
}

const char *dt_build_features(void)
{
    static char buf[512];
    char cuda[256];
    dt_backend_cuda_build_info(cuda, sizeof cuda);
#ifdef DT_HAVE_NCCL
    const char *nccl = ", NCCL (GPU all-reduce)";
#else
    const char *nccl = "";
#endif
    snprintf(buf, sizeof buf, "backends: cpu (OpenBLAS + OpenMP)%s%s\ncommunicators: MPI%s",
             cuda[0] ? ", " : "", cuda, nccl);
    return buf;
}

dt_adam_scalars dt_adam_scalars_of(const dt_adam_args *a)
{
    const double bc1 = 1.0 - pow(a->beta1, (double)a->step);
    const double bc2 = 1.0 - pow(a->beta2, (double)a->step);
    return (dt_adam_scalars){.step_size = (float)(a->lr / bc1),
                             .inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)),
                             .decay = a->decoupled ? 1.0f - a->lr * a->weight_decay : 1.0f,
                             .l2 = a->decoupled ? 0.0f : a->weight_decay,
                             .inv_bc1 = (float)(1.0 / bc1),
                             .inv_bc2 = (float)(1.0 / bc2)};
}

/* The first step is told by a->first, not by 1 - dampening being 0: with
 * dampening 1 later steps keep b = mom * v, as torch.optim.SGD. */
void dt_sgd_carry_take(const dt_sgd_args *a, float *carry, float *take)
{
    *carry = a->first ? 0.0f : a->momentum;
    *take = a->first ? 1.0f : 1.0f - a->dampening;
}
