/* Placeholder until the Jinja renderer lands (branch chat-template): every call is unsupported, so the
 * modules written against chat_template.h build and link. */
#include "chat/chat_template.h"

#include <stdlib.h>

#include "core/log.h"

static vkt_status not_yet(void) {
    vkt_log_error("chat templates: not built yet");
    return VKT_ERR_UNSUPPORTED;
}

vkt_status vkt_chat_template_load_hf(const char *path, vkt_chat_template **out) {
    *out = NULL;
    return not_yet();
}
vkt_status vkt_chat_template_from_source(const char *source, size_t len, const char *name, const char *bos,
                                         const char *eos, vkt_chat_template **out) {
    *out = NULL;
    return not_yet();
}
vkt_status vkt_chat_template_builtin(const char *name, const char *bos, const char *eos, vkt_chat_template **out) {
    *out = NULL;
    return not_yet();
}
void vkt_chat_template_free(vkt_chat_template *t) { (void)t; }
const char *vkt_chat_template_name(const vkt_chat_template *t) { return "none"; }
vkt_status vkt_chat_render(const vkt_chat_template *t, const cJSON *messages, const cJSON *tools,
                           bool add_generation_prompt, const cJSON *extra, vkt_chat_render_out *out) {
    return not_yet();
}
void vkt_chat_render_free(vkt_chat_render_out *out) {
    if (!out) return;
    free(out->text);
    free(out->spans);
    out->text = NULL;
    out->spans = NULL;
}
