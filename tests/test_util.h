/* A minimal test harness: checks that count failures and report file:line.
 *
 * A test program runs its checks, prints one line per failure and returns
 * dt_test_result(): 0 when all passed, 1 otherwise. 77 means skipped. */
#ifndef DT_TEST_UTIL_H
#define DT_TEST_UTIL_H

#include <math.h>
#include <stdio.h>

static int dt_test_failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        const int check_s_ = (int)(expr);                                      \
        if (check_s_ != 0) {                                                   \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, \
                    #expr, check_s_, dt_error_message());                      \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                          \
    do {                                                                       \
        const double check_a_ = (a), check_b_ = (b);                           \
        if (!(fabs(check_a_ - check_b_) <=                                     \
              (atol) + (rtol) * fabs(check_b_))) {                             \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %s = %.9g\n",          \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_);           \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

static inline int dt_test_result(void)
{
    if (dt_test_failures) fprintf(stderr, "%d check(s) failed\n", dt_test_failures);
    return dt_test_failures ? 1 : 0;
}

#endif
