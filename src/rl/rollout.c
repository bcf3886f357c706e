/* GRPO rollouts (see rollout.h). */
#include "rl/rollout.h"

#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "core/log.h"

enum { MAX_STOP = 16 };

struct vkt_rollout {
    vkt_rollout_opts o;             /* stop_ids points at stop below */
    vkt_tokenizer *tok;             /* borrowed */
    const vkt_chat_template *tmpl;  /* borrowed or NULL */
    vkt_gen_session *session;       /* owned */
    int32_t stop[MAX_STOP];
    int64_t context;
};

vkt_rollout_opts vkt_rollout_opts_default(void) {
    return (vkt_rollout_opts){.group_size = 8,
                              .max_completion_tokens = 256,
                              .sampler = {.temperature = 1.0, .top_k = 0, .top_p = 1.0}};
}

/* splitmix64's finalizer over the running hash and one more value. */
static uint64_t mix(uint64_t h, uint64_t v) {
    uint64_t z = h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t vkt_rollout_seed(uint64_t seed, int64_t step, int64_t prompt_id, int64_t sample) {
    return mix(mix(mix(mix(0x5EEDull, seed), (uint64_t)step), (uint64_t)prompt_id), (uint64_t)sample);
}

vkt_status vkt_rollout_create(vkt_device *dev, const vkt_model *model, const vkt_gen_adapter *adapter,
                              vkt_tokenizer *tok, const vkt_chat_template *tmpl, const vkt_rollout_opts *o,
                              vkt_rollout **out) {
    *out = NULL;
    int64_t context = o->context > 0 && o->context < model->cfg.max_seq_len ? o->context : model->cfg.max_seq_len;
    const char *bad = o->group_size < 1 ? "group_size must be >= 1"
                      : o->max_completion_tokens < 1 ? "max_completion_tokens must be >= 1"
                      : o->max_prompt_tokens < 0 ? "max_prompt_tokens must be >= 0"
                      : o->n_stop < 0 || o->n_stop > MAX_STOP ? "n_stop must be in [0, 16]"
                      : o->max_prompt_tokens + o->max_completion_tokens > context
                          ? "max_prompt_tokens + max_completion_tokens exceed the context"
                          : NULL;
    if (bad) {
        vkt_log_error("rollout: %s (group_size %lld, max_prompt_tokens %lld, max_completion_tokens %lld, context "
                      "%lld)", bad, (long long)o->group_size, (long long)o->max_prompt_tokens,
                      (long long)o->max_completion_tokens, (long long)context);
        return VKT_ERR_ARG;
    }
    vkt_rollout *r = calloc(1, sizeof *r);
    if (!r) return VKT_ERR_OOM;
    r->o = *o, r->tok = tok, r->tmpl = tmpl, r->context = context;
    if (o->stop_ids) memcpy(r->stop, o->stop_ids, (size_t)o->n_stop * sizeof *r->stop);
    else r->o.n_stop = vkt_chat_stop_ids(tok, r->stop, MAX_STOP);
    r->o.stop_ids = r->stop;
    vkt_status s = vkt_gen_session_create_ex(dev, model, context, adapter, &r->session);
    if (s != VKT_OK) {
        vkt_rollout_destroy(r);
        return s;
    }
    *out = r;
    return VKT_OK;
}

void vkt_rollout_destroy(vkt_rollout *r) {
    if (!r) return;
    vkt_gen_session_destroy(r->session);
    free(r);
}

int64_t vkt_rollout_context(const vkt_rollout *r) { return r->context; }

void vkt_rollout_set_sampling(vkt_rollout *r, int64_t group_size, const vkt_sampler_opts *sampler) {
    VKT_ASSERT(group_size >= 1);
    r->o.group_size = group_size, r->o.sampler = *sampler;
}

static vkt_status encode_chat(vkt_rollout *r, const vkt_rl_prompt *p, vkt_tok_ids *ids) {
    if (!r->tmpl) {
        vkt_log_error("rollout: prompt %lld is a conversation but no chat template was given; pass one (e.g. "
                      "--template chatml) or use text prompts", (long long)p->id);
        return VKT_ERR_ARG;
    }
    char *text = NULL;
    size_t len = 0;
    vkt_status s = vkt_chat_render_text(r->tmpl, p->messages, p->tools, true, NULL, &text, &len);
    if (s != VKT_OK) vkt_log_error("rollout: prompt %lld: the chat template failed (above)", (long long)p->id);
    if (s == VKT_OK) s = vkt_tok_encode(r->tok, text, len, true, ids);
    free(text);
    return s;
}

static vkt_status encode_text(vkt_rollout *r, const vkt_rl_prompt *p, vkt_tok_ids *ids) {
    if (vkt_tok_adds_bos(r->tok)) VKT_TRY(vkt_tok_ids_push(ids, vkt_tok_bos(r->tok)));
    if (p->text && p->text[0]) VKT_TRY(vkt_tok_encode(r->tok, p->text, strlen(p->text), r->o.parse_special, ids));
    return VKT_OK;
}

vkt_status vkt_rollout_encode_prompt(vkt_rollout *r, const vkt_rl_prompt *p, vkt_tok_ids *ids, bool *truncated) {
    *truncated = false;
    VKT_TRY(p->messages ? encode_chat(r, p, ids) : encode_text(r, p, ids));
    if (ids->len == 0) { /* nothing to continue (bytes tokenizer, empty text): start from the end-of-text id */
        int32_t start = vkt_tok_eot(r->tok) >= 0 ? vkt_tok_eot(r->tok) : 0;
        VKT_TRY(vkt_tok_ids_push(ids, start));
    }
    int64_t max = r->o.max_prompt_tokens, n = (int64_t)ids->len;
    if (max > 0 && n > max) {
        bool bos = vkt_tok_bos(r->tok) >= 0 && ids->data[0] == vkt_tok_bos(r->tok) && max >= 2;
        int64_t keep = max - bos;
        memmove(ids->data + bos, ids->data + n - keep, (size_t)keep * sizeof *ids->data);
        ids->len = (size_t)max, *truncated = true;
    }
    if ((int64_t)ids->len + r->o.max_completion_tokens > r->context) {
        vkt_log_error("rollout: prompt %lld has %zu tokens; with max_completion_tokens %lld it exceeds the context "
                      "of %lld; set max_prompt_tokens or a longer context", (long long)p->id, ids->len,
                      (long long)r->o.max_completion_tokens, (long long)r->context);
        return VKT_ERR_ARG;
    }
    return VKT_OK;
}

static bool is_stop(const vkt_rollout *r, int32_t id) {
    for (int k = 0; k < r->o.n_stop; k++)
        if (r->stop[k] == id) return true;
    return false;
}

static vkt_status sample(vkt_rollout *r, const vkt_tok_ids *prompt, uint64_t seed, vkt_completion *c) {
    vkt_generate_opts go = {.max_tokens = r->o.max_completion_tokens, .sampler = r->o.sampler, .seed = seed,
                            .stop_ids = r->stop, .n_stop = r->o.n_stop};
    VKT_TRY(vkt_gen_session_run(r->session, r->tok, prompt->data, (int64_t)prompt->len, &go, &c->ids, &c->n));
    c->stopped = c->n > 0 && is_stop(r, c->ids[c->n - 1]);
    vkt_tok_bytes text = {0};
    vkt_status s = vkt_tok_decode(r->tok, c->ids, (size_t)(c->n - c->stopped), true, &text);
    c->text = text.data ? text.data : calloc(1, 1);
    if (s == VKT_OK && !c->text) s = VKT_ERR_OOM;
    return s;
}

vkt_status vkt_rollout_generate(vkt_rollout *r, int64_t step, const vkt_rl_prompt *prompts, int64_t n,
                                vkt_rollout_set *out) {
    memset(out, 0, sizeof *out);
    const int64_t G = r->o.group_size;
    out->prompt_ids = calloc((size_t)(n > 0 ? n : 1), sizeof *out->prompt_ids);
    out->c = calloc((size_t)(n > 0 ? n * G : 1), sizeof *out->c);
    if (!out->prompt_ids || !out->c) return VKT_ERR_OOM;
    out->n_prompts = n, out->group_size = G;
    for (int64_t p = 0; p < n; p++) {
        bool cut;
        VKT_TRY(vkt_rollout_encode_prompt(r, &prompts[p], &out->prompt_ids[p], &cut));
        out->n_prompts_truncated += cut;
    }
    VKT_TRY(vkt_gen_session_refresh(r->session, r->o.reload_params));
    for (int64_t p = 0; p < n; p++)
        for (int64_t g = 0; g < G; g++) {
            vkt_completion *c = &out->c[p * G + g];
            c->prompt = p;
            VKT_TRY(sample(r, &out->prompt_ids[p], vkt_rollout_seed(r->o.seed, step, prompts[p].id, g), c));
        }
    return VKT_OK;
}

void vkt_rollout_set_free(vkt_rollout_set *s) {
    if (!s) return;
    for (int64_t p = 0; s->prompt_ids && p < s->n_prompts; p++) vkt_tok_ids_free(&s->prompt_ids[p]);
    for (int64_t i = 0; s->c && i < s->n_prompts * s->group_size; i++) {
        free(s->c[i].ids);
        free(s->c[i].text);
    }
    free(s->prompt_ids);
    free(s->c);
    memset(s, 0, sizeof *s);
}
