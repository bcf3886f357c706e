/* Attention reference: the textbook formulas, one score row at a time (no online softmax, no tiling),
 * so it shares no algorithmic shortcut with the GPU kernels it checks.
 *   P_i = softmax(scale q_i k^T + mask),  o_i = P_i v,  lse_i = log sum_j exp(scale q_i.k_j)
 *   dP_ij = do_i . v_j,  D_i = sum_j P_ij dP_ij,  dS_ij = P_ij (dP_ij - D_i)
 *   dq_i = scale sum_j dS_ij k_j,  dk_j = scale sum_i dS_ij q_i,  dv_j = sum_i P_ij do_i */
#include "ref/ref_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Whether query i of batch b sees key j: the same document (packing), and j <= i when causal. */
static bool visible(const vkt_ref_attention_shape *s, int64_t b, int64_t i, int64_t j) {
    if (s->seg_start && s->seg_start[b * s->T + i] != s->seg_start[b * s->T + j]) return false;
    return !s->causal || j <= i;
}

/* Fills p[0..T) with the softmax of row (b, h, i), 0 for keys it does not see; returns the lse. */
static double probs(const vkt_ref_attention_shape *s, const double *q, const double *k, int64_t b, int64_t h,
                    int64_t i, double *p) {
    int64_t HS = s->HS, kvh = h / (s->NH / s->KVH);
    const double *qi = q + ((b * s->T + i) * s->NH + h) * HS;
    double mx = -INFINITY;
    for (int64_t j = 0; j < s->T; j++) {
        if (!visible(s, b, i, j)) continue;
        const double *kj = k + ((b * s->T + j) * s->KVH + kvh) * HS;
        double x = 0;
        for (int64_t d = 0; d < HS; d++) x += qi[d] * kj[d];
        p[j] = s->scale * x;
        mx = fmax(mx, p[j]);
    }
    double sum = 0;
    for (int64_t j = 0; j < s->T; j++) sum += (p[j] = visible(s, b, i, j) ? exp(p[j] - mx) : 0.0);
    for (int64_t j = 0; j < s->T; j++) p[j] /= sum;
    return mx + log(sum);
}

void vkt_ref_attention_fwd(const vkt_ref_attention_shape *s, const double *q, const double *k, const double *v,
                           double *o, double *lse) {
    int64_t HS = s->HS;
    double *p = malloc((size_t)s->T * sizeof *p);
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t h = 0; h < s->NH; h++)
            for (int64_t i = 0; i < s->T; i++) {
                int64_t kvh = h / (s->NH / s->KVH);
                lse[(b * s->NH + h) * s->T + i] = probs(s, q, k, b, h, i, p);
                double *oi = o + ((b * s->T + i) * s->NH + h) * HS;
                memset(oi, 0, (size_t)HS * sizeof *oi);
                for (int64_t j = 0; j < s->T; j++) {
                    const double *vj = v + ((b * s->T + j) * s->KVH + kvh) * HS;
                    for (int64_t d = 0; d < HS; d++) oi[d] += p[j] * vj[d];
                }
            }
    free(p);
}

void vkt_ref_attention_bwd(const vkt_ref_attention_shape *s, const double *dout, const double *q,
                           const double *k, const double *v, double *dq, double *dk, double *dv) {
    vkt_ref_attention_bwd_delta(s, dout, q, k, v, NULL, dq, dk, dv);
}

void vkt_ref_attention_bwd_delta(const vkt_ref_attention_shape *s, const double *dout, const double *q,
                                 const double *k, const double *v, const double *delta, double *dq, double *dk,
                                 double *dv) {
    int64_t HS = s->HS;
    size_t nq = (size_t)(s->B * s->T * s->NH * HS), nkv = (size_t)(s->B * s->T * s->KVH * HS);
    memset(dq, 0, nq * sizeof *dq);
    memset(dk, 0, nkv * sizeof *dk);
    memset(dv, 0, nkv * sizeof *dv);
    double *p = malloc((size_t)s->T * sizeof *p), *dp = malloc((size_t)s->T * sizeof *dp);
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t h = 0; h < s->NH; h++)
            for (int64_t i = 0; i < s->T; i++) {
                int64_t kvh = h / (s->NH / s->KVH), row = (b * s->T + i) * s->NH + h;
                probs(s, q, k, b, h, i, p);
                const double *doi = dout + row * HS, *qi = q + row * HS;
                double D = 0;
                for (int64_t j = 0; j < s->T; j++) {
                    const double *vj = v + ((b * s->T + j) * s->KVH + kvh) * HS;
                    dp[j] = 0;
                    for (int64_t d = 0; d < HS; d++) dp[j] += doi[d] * vj[d];
                    D += p[j] * dp[j];
                }
                if (delta) D = delta[(b * s->NH + h) * s->T + i];
                for (int64_t j = 0; j < s->T; j++) {
                    if (!visible(s, b, i, j)) continue;
                    int64_t kv = ((b * s->T + j) * s->KVH + kvh) * HS;
                    double ds = p[j] * (dp[j] - D);
                    for (int64_t d = 0; d < HS; d++) {
                        dq[row * HS + d] += s->scale * ds * k[kv + d];
                        dk[kv + d] += s->scale * ds * qi[d];
                        dv[kv + d] += p[j] * doi[d];
                    }
                }
            }
    free(p);
    free(dp);
}
