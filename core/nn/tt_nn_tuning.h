/* TrafficTriage core: tuning hooks of the CNN for tests and benchmarks only
 * (not part of the public API in tt_nn.h). */
#ifndef TT_NN_TUNING_H
#define TT_NN_TUNING_H

#include "tt_nn.h"

G_BEGIN_DECLS

/* Sparse / dense crossovers for conv 0 and for the delta conv:
 * 0 = always sparse, INFINITY = never, < 0 = the default (which depends on
 * the layers and on inference vs training: TT_SPARSE_COST_* in nn_private.h). */
void tt_ws_set_sparse_cost(tt_ws *ws, double conv0, double delta);
/* Make tt_net_train_one use its dense conv 0 path (the one taken when dropout
 * sits between the first two parametrised layers), to compare both paths. */
void tt_ws_set_dense_train(tt_ws *ws, gboolean dense);

G_END_DECLS

#endif
