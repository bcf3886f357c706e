/* RoPE frequencies and the cos/sin table, host side (see rope.h): plain math with no device, shared by the
 * op, the model's table and config validation. */
#include <math.h>

#include "core/log.h"
#include "ops/rope.h"

void vkt_rope_inv_freq(double *inv_freq, int64_t rot_dim, double theta) {
    for (int64_t i = 0; i < rot_dim / 2; i++) inv_freq[i] = pow(theta, -(double)(2 * i) / (double)rot_dim);
}

void vkt_rope_scale_llama3(double *inv_freq, int64_t n_freq, double factor, double low_freq_factor,
                           double high_freq_factor, double orig_max_pos) {
    VKT_ASSERT(factor >= 1 && low_freq_factor > 0 && high_freq_factor > low_freq_factor && orig_max_pos > 0);
    const double pi = 3.14159265358979323846;
    for (int64_t i = 0; i < n_freq; i++) {
        const double f = inv_freq[i], wavelen = 2 * pi / f;
        if (wavelen < orig_max_pos / high_freq_factor) continue;
        if (wavelen > orig_max_pos / low_freq_factor) {
            inv_freq[i] = f / factor;
            continue;
        }
        const double s = (orig_max_pos / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
        inv_freq[i] = f * ((1 - s) / factor + s);
    }
}

void vkt_rope_table(float *table, int64_t n_pos, int64_t n_freq, const double *inv_freq, bool fp32_angles) {
    for (int64_t p = 0; p < n_pos; p++) {
        for (int64_t i = 0; i < n_freq; i++) {
            double a = fp32_angles ? (double)((float)p * (float)inv_freq[i]) : (double)p * inv_freq[i];
            table[(p * n_freq + i) * 2] = (float)cos(a);
            table[(p * n_freq + i) * 2 + 1] = (float)sin(a);
        }
    }
}
