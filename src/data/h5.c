/* The process-wide HDF5 lock and the switch that silences HDF5's own error
 * printing.
 *
 * Debian's HDF5 is built without its thread-safety option, so two threads
 * inside the library at once corrupt its global state. Every HDF5 call in
 * dtrain (the loader thread reading shards, the trainer writing
 * checkpoints, the converters) therefore runs under one mutex. The mutex is
 * recursive so that a helper which takes the lock can be called from code
 * that already holds it. */
#include "data/h5.h"

#include <hdf5.h>
#include <pthread.h>

static pthread_mutex_t g_h5_mutex;
static pthread_once_t g_h5_once = PTHREAD_ONCE_INIT;

static void h5_mutex_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_h5_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
}

void dt_h5_lock(void)
{
    pthread_once(&g_h5_once, h5_mutex_init);
    pthread_mutex_lock(&g_h5_mutex);
}

void dt_h5_unlock(void) { pthread_mutex_unlock(&g_h5_mutex); }

/* HDF5 prints its error stack to stderr by default; library code must not
 * print, and every failure is turned into a dt_status message instead. */
void dt_h5_quiet(void)
{
    dt_h5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    dt_h5_unlock();
}
