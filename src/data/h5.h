/* Checked HDF5 calls and the process-wide HDF5 lock.
 *
 * Debian's parallel HDF5 is not built thread-safe, and dtrain calls it from
 * the loader thread and from the trainer (checkpoints). Every HDF5 call runs
 * between dt_h5_lock() and dt_h5_unlock(). HDF5's own error stack printing
 * is turned off; failures become dt_status errors naming the file and the
 * object instead. */
#ifndef DT_DATA_H5_H
#define DT_DATA_H5_H

void dt_h5_lock(void);
void dt_h5_unlock(void);

/* Turn off HDF5's automatic error printing (idempotent). */
void dt_h5_quiet(void);

#endif
