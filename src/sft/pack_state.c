/* Resume check of the batch packers (see pack_state.h). */
#include "sft/pack_state.h"

#include "core/log.h"

vkt_status vkt_pack_state_check(const char *what, const vkt_pack_field *f, size_t n, int64_t epoch, int64_t batch) {
    for (size_t i = 0; i < n; i++)
        if (f[i].saved != f[i].here) {
            vkt_log_error("%s: the saved position has %s = %lld but this run has %lld; resume with the same data and "
                          "batch options",
                          what, f[i].name, (long long)f[i].saved, (long long)f[i].here);
            return VKT_ERR_ARG;
        }
    if (epoch < 0 || batch < 0) {
        vkt_log_error("%s: the saved position (epoch %lld, batch %lld) is negative", what, (long long)epoch,
                      (long long)batch);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}
