/* Metrics log and loss-curve SVG (see metrics.h). */
#include "train/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static vkt_status mkdir_p(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) break;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        vkt_log_error("%s: cannot create the run folder (%s)", dir, strerror(errno));
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

vkt_status vkt_metrics_open(vkt_metrics *m, const char *dir) {
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    VKT_TRY(mkdir_p(dir));
    char path[600];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    m->jsonl = fopen(path, "a");
    if (!m->jsonl) {
        vkt_log_error("%s: cannot open for appending (%s)", path, strerror(errno));
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

static vkt_status push(int64_t **steps, double **losses, int64_t *n, int64_t *cap, int64_t step, double loss);

vkt_status vkt_metrics_open_resume(vkt_metrics *m, const char *dir, int64_t first_step) {
    char path[600], tmp[620], line[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *in = fopen(path, "r");
    if (!in) return vkt_metrics_open(m, dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        vkt_log_error("%s: cannot write (%s)", tmp, strerror(errno));
        return VKT_ERR_IO;
    }
    memset(m, 0, sizeof *m);
    vkt_status s = VKT_OK;
    int64_t dropped = 0;
    while (s == VKT_OK && fgets(line, sizeof line, in)) {
        long long step;
        char kind[16];
        if (sscanf(line, "{\"step\":%lld,\"kind\":\"%15[^\"]\"", &step, kind) == 2) {
            bool val = strcmp(kind, "val") == 0;
            if (val ? step > first_step : step >= first_step) {
                dropped++;
                continue;
            }
            const char *l = strstr(line, "\"loss\":");
            double loss = l ? strtod(l + 7, NULL) : NAN; /* "null" parses as nothing: 0 is not taken */
            if (l && strncmp(l + 7, "null", 4) != 0 && isfinite(loss)) {
                if (val) s = push(&m->val_step, &m->val_loss, &m->n_val, &m->cap_val, step, loss);
                else s = push(&m->train_step, &m->train_loss, &m->n_train, &m->cap_train, step, loss);
            }
        }
        fputs(line, out);
    }
    fclose(in);
    bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    ok &= fclose(out) == 0;
    if (s == VKT_OK && (!ok || rename(tmp, path) != 0)) {
        vkt_log_error("%s: rewrite failed (%s)", path, strerror(errno));
        s = VKT_ERR_IO;
    }
    if (s != VKT_OK) {
        remove(tmp);
        vkt_metrics_close(m);
        return s;
    }
    if (dropped)
        vkt_log_info("%s: removed %lld line(s) of steps after the resumed checkpoint (step %lld), which this run "
                     "trains again", path, (long long)dropped, (long long)first_step);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    m->jsonl = fopen(path, "a");
    if (!m->jsonl) {
        vkt_log_error("%s: cannot open for appending (%s)", path, strerror(errno));
        vkt_metrics_close(m);
        return VKT_ERR_IO;
    }
    return VKT_OK;
}

void vkt_metrics_close(vkt_metrics *m) {
    if (m->jsonl) fclose(m->jsonl);
    free(m->train_step), free(m->val_step), free(m->train_loss), free(m->val_loss);
    memset(m, 0, sizeof *m);
}

static vkt_status push(int64_t **steps, double **losses, int64_t *n, int64_t *cap, int64_t step, double loss) {
    if (*n == *cap) {
        int64_t c = *cap ? 2 * *cap : 256;
        int64_t *s = realloc(*steps, (size_t)c * sizeof *s);
        if (!s) return VKT_ERR_OOM;
        *steps = s;
        double *l = realloc(*losses, (size_t)c * sizeof *l);
        if (!l) return VKT_ERR_OOM;
        *losses = l, *cap = c;
    }
    (*steps)[*n] = step, (*losses)[*n] = loss, (*n)++;
    return VKT_OK;
}

const char *vkt_metrics_num(char *buf, size_t n, double x) {
    if (isfinite(x)) snprintf(buf, n, "%.9g", x);
    else snprintf(buf, n, "null");
    return buf;
}

vkt_status vkt_metrics_log(vkt_metrics *m, int64_t step, const char *kind, double loss, const char *extra) {
    if (!m->jsonl) return VKT_OK;
    char num[32];
    fprintf(m->jsonl, "{\"step\":%lld,\"kind\":\"%s\",\"loss\":%s%s%s}\n", (long long)step, kind,
            vkt_metrics_num(num, sizeof num, loss), extra && *extra ? "," : "", extra ? extra : "");
    fflush(m->jsonl);
    if (!isfinite(loss)) return VKT_OK; /* no point on the curve */
    if (strcmp(kind, "val") == 0) return push(&m->val_step, &m->val_loss, &m->n_val, &m->cap_val, step, loss);
    return push(&m->train_step, &m->train_loss, &m->n_train, &m->cap_train, step, loss);
}

#define W 800
#define H 420
#define PAD_L 60
#define PAD_R 20
#define PAD_T 30
#define PAD_B 40

static void polyline(FILE *f, const int64_t *x, const double *y, int64_t n, double x1, double y0, double y1,
                     const char *color) {
    if (n == 0) return;
    /* At most ~1000 points: average each bucket so noise doesn't hide the trend. */
    int64_t stride = n > 1000 ? (n + 999) / 1000 : 1;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
    for (int64_t i = 0; i < n; i += stride) {
        double sx = 0, sy = 0;
        int64_t k = 0;
        for (int64_t j = i; j < n && j < i + stride; j++, k++) sx += (double)x[j], sy += y[j];
        double px = PAD_L + (W - PAD_L - PAD_R) * (sx / k) / (x1 > 0 ? x1 : 1);
        double py = PAD_T + (H - PAD_T - PAD_B) * (1 - (sy / k - y0) / (y1 - y0));
        fprintf(f, "%.1f,%.1f ", px, py);
    }
    fprintf(f, "\"/>\n");
}

vkt_status vkt_metrics_write_svg(const vkt_metrics *m) {
    if (!m->jsonl) return VKT_OK;
    double y0 = INFINITY, y1 = -INFINITY, x1 = 1;
    for (int64_t i = 0; i < m->n_train; i++)
        y0 = fmin(y0, m->train_loss[i]), y1 = fmax(y1, m->train_loss[i]), x1 = fmax(x1, (double)m->train_step[i]);
    for (int64_t i = 0; i < m->n_val; i++)
        y0 = fmin(y0, m->val_loss[i]), y1 = fmax(y1, m->val_loss[i]), x1 = fmax(x1, (double)m->val_step[i]);
    if (!(y1 > y0)) y0 = (isfinite(y0) ? y0 : 0) - 1, y1 = y0 + 2;
    char path[600], tmp[620];
    snprintf(path, sizeof path, "%s/loss.svg", m->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        vkt_log_error("%s: cannot write (%s)", tmp, strerror(errno));
        return VKT_ERR_IO;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"18\">loss (blue: train, orange: validation)</text>\n", PAD_L);
    for (int i = 0; i <= 5; i++) {
        double v = y0 + (y1 - y0) * i / 5.0, py = PAD_T + (H - PAD_T - PAD_B) * (1 - i / 5.0);
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PAD_L, W - PAD_R, py, py);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>\n", PAD_L - 5, py + 4, v);
    }
    for (int i = 0; i <= 5; i++) {
        double px = PAD_L + (W - PAD_L - PAD_R) * i / 5.0;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", px, H - PAD_B + 18,
                x1 * i / 5.0);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n", (W + PAD_L) / 2, H - 5);
    polyline(f, m->train_step, m->train_loss, m->n_train, x1, y0, y1, "#1f77b4");
    polyline(f, m->val_step, m->val_loss, m->n_val, x1, y0, y1, "#ff7f0e");
    fprintf(f, "</svg>\n");
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        vkt_log_error("%s: write failed (%s)", path, strerror(errno));
        remove(tmp);
        return VKT_ERR_IO;
    }
    return VKT_OK;
}
