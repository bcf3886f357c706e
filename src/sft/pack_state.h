/* The resume check both batch packers share (sft_pack.h, pref_pack.h): a saved position {epoch, batch} is only
 * valid for the data and options it was saved with. */
#ifndef VKT_PACK_STATE_H
#define VKT_PACK_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

/* One option the position depends on: its name, the saved value and this run's. */
typedef struct {
    const char *name;
    int64_t saved, here;
} vkt_pack_field;

/* VKT_ERR_ARG, logged as "WHAT: ..." naming the field, when a saved value differs from this run's or the saved
 * epoch or batch is negative. */
vkt_status vkt_pack_state_check(const char *what, const vkt_pack_field *f, size_t n, int64_t epoch, int64_t batch);

#endif
