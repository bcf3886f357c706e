/* Parameter-table matching of file tensors (see param_match.h). */
#include "io/param_match.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

int vkt_param_file_shape(const vkt_param *e, vkt_param_layout layout, int64_t shape[2]) {
    if (layout == VKT_LAYOUT_TABLE) return shape[0] = e->rows, shape[1] = e->cols, 2;
    if (e->rows == 1) return shape[0] = e->cols, 1;
    bool in_out = layout == VKT_LAYOUT_HF && e->hf_transposed;
    shape[0] = in_out ? e->cols : e->rows;
    shape[1] = in_out ? e->rows : e->cols;
    return 2;
}

const char *vkt_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

vkt_status vkt_param_check_shape(const char *file, const char *tensor, int ndim, const int64_t *shape,
                                 const vkt_param *e, vkt_param_layout layout) {
    int64_t want[2];
    int wn = vkt_param_file_shape(e, layout, want);
    bool same = ndim == wn;
    for (int i = 0; same && i < wn; i++) same = shape[i] == want[i];
    if (same) return VKT_OK;
    char got_s[96], want_s[64];
    vkt_shape_str(ndim, shape, got_s, sizeof got_s);
    vkt_shape_str(wn, want, want_s, sizeof want_s);
    bool transposed = ndim == 2 && wn == 2 && shape[0] == want[1] && shape[1] == want[0];
    const char *why = wn == 1                ? "a vector"
                      : layout == VKT_LAYOUT_TABLE ? "(rows, cols) as vktrain writes optimizer state"
                      : layout == VKT_LAYOUT_HF && e->hf_transposed ? "(in_features, out_features), GPT-2 Conv1D"
                                                                    : "(out_features, in_features), torch nn.Linear";
    vkt_log_error("%s: tensor \"%s\" has shape %s, expected %s %s%s", file, tensor, got_s, want_s, why,
                  transposed ? ": it is stored transposed (was it exported with the other layout?)"
                             : ": is this file of the same model and config.json?");
    return VKT_ERR_FORMAT;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool vkt_param_ignorable(const char *tensor) {
    return ends_with(tensor, ".attn.bias") || ends_with(tensor, ".attn.masked_bias") ||
           ends_with(tensor, ".rotary_emb.inv_freq");
}

const vkt_param *vkt_param_for_file_name(const vkt_param_table *t, const char *tensor) {
    const vkt_param *e = vkt_params_find(t, tensor);
    if (e) return e;
    for (int i = 0; i < t->n; i++)
        if (strncmp(t->p[i].name, "transformer.", 12) == 0 && strcmp(t->p[i].name + 12, tensor) == 0)
            return &t->p[i];
    return NULL;
}
