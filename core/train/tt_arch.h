/* TrafficTriage core: the stock architectures by name. An architecture is a
 * net (tt_layers_lenet, tt_layers_flowpic) and the input spec it was designed
 * for; a new model (`traffictriage init-model`, `train` without --init)
 * starts here. */
#ifndef TT_ARCH_H
#define TT_ARCH_H

#include "tt_model.h"

G_BEGIN_DECLS

typedef enum {
    TT_ARCH_LENET = 0,     /* "lenet": LeNet-5 style mini-FlowPic net, 32 x 32, 15 s (tt_spec_init_mini) */
    TT_ARCH_FLOWPIC = 1    /* "flowpic": the FlowPic paper's net, 1500 x 1500, 60 s (tt_spec_init_paper) */
} tt_arch;

/* The architecture of a name ("lenet", "flowpic"), or -1 for another name. */
int tt_arch_from_name(const char *name);
const char *tt_arch_name(tt_arch arch);
/* The picture side arch was designed for (32 or 1500). */
uint32_t tt_arch_default_side(tt_arch arch);
/* The input spec arch was designed for, with side x side pictures (not
 * validated: see tt_spec_validate). */
void tt_arch_spec(tt_arch arch, uint32_t side, tt_spec *spec);
/* The layers of arch over pictures of spec for n_classes outputs into layers
 * (TT_MAX_LAYERS entries); returns their count. LeNet on the sequence picture
 * (TT_TIME_SEQUENCE, twice as tall as wide) pools 4 x 2 first
 * (tt_layers_lenet_sequence). */
uint32_t tt_arch_layers(tt_arch arch, const tt_spec *spec, uint32_t n_classes, tt_layer *layers);
/* A new model of arch over spec: weights drawn from seed (tt_net_init_params),
 * prepared for inference, no metadata. name NULL = "TASK-ARCHSIDE-BLOCKs"
 * (e.g. "category-lenet32-15s"). NULL with a TT_ERROR when the net does not
 * fit spec or a class name is bad. */
tt_model *tt_arch_model(tt_arch arch, const tt_spec *spec, const char *task, const char *name,
                        const char *const *classes, uint32_t n_classes, uint64_t seed, GError **error);

G_END_DECLS

#endif
