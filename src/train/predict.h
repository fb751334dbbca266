/* Predictions of a few test samples written as text, for pictures of a
 * segmentation model's inputs, targets and outputs (gnuplot reads them). */
#ifndef DT_TRAIN_PREDICT_H
#define DT_TRAIN_PREDICT_H

#include "train/session.h"

#define DT_PREDICTIONS_SAMPLES 8

/* Run the model (evaluation mode) on the first n test samples and write to
 * `path`, per sample, three matrices of H rows of W numbers: the input's
 * first channel, the target labels and the predicted labels (arg-max over
 * classes), each block followed by two blank lines (gnuplot's `index`).
 * Needs per-pixel class labels. */
dt_status dt_predictions_write(dt_session *s, int n, const char *path);

#endif
