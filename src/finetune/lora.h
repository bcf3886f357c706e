/* LoRA adapters on a frozen model, with Hugging Face PEFT's semantics and names.
 *
 * An adapter set is built for one device model (vkt_model, any mode with a forward): the target modules
 * are matched against the model's linear layers as PEFT does (peft.tuners.tuners_utils.
 * check_target_module_exists): a list matches a module whose name equals an entry or ends with "." + the
 * entry; a single string other than "all-linear" is a regular expression that must match the whole name;
 * "all-linear" is every linear layer except the output head. Module names are Hugging Face's
 * (model.layers.0.self_attn.q_proj; transformer.h.0.attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj).
 *
 * Each targeted module gets lora_A (r, in) and lora_B (out, r), its output becoming
 * y = x W^T + b + s (x A^T) B^T with s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora). Init as
 * PEFT: A Kaiming-uniform as torch's kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), B
 * zero; "gaussian": A ~ N(0, (1/r)^2) (PEFT's normal_(std = 1 / r)), B zero; "false": both keep
 * torch.nn.Linear's default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), so the adapter starts non-zero.
 *
 * Memory: the adapter owns its arenas: parameters and gradients (flat, in the order of `table`), and the
 * (BT, r) intermediates u of every module plus one (BT, r) scratch. The base model keeps no gradients or
 * moments for its weights (VKT_MODEL_FROZEN) and reaches the adapters through one hook per linear layer
 * (vkt_linear_hook in model/model.h), which vkt_lora_attach installs.
 *
 * lora_dropout applies to the adapter input in training passes only (model->training), with masks drawn
 * on the device from (seed, module, a pass counter the adapter keeps in device memory and advances after
 * each training backward); vkt_lora_set_pass_counter restores it on resume (micro-batches run so far).
 *
 * A reward model's adapter also trains the score head (cfg.score_head), saved as PEFT saves a SEQ_CLS task's
 * modules_to_save: its whole weight beside the lora_A / lora_B pairs.
 *
 * modules_to_save (cfg.modules_to_save, finetune/lora_save.c): the embedding tables and the LM head trained in
 * full, as PEFT's ModulesToSaveWrapper does (peft/utils/other.py): a name selects every module whose path ends
 * with it (_set_trainable's key.endswith: "lm_head", "embed_tokens", GPT-2's "wte" / "wpe"); each selected
 * module gets a trainable copy of its weight, initialised from the base, in the adapter's table (after the
 * lora pairs and the score head) under PEFT's saved key base_model.model.<module>.weight; the base weight stays
 * frozen. The model reads the copies through model->saved (model.h). Tied embeddings (tie_word_embeddings) are
 * untied as PEFT's default (ensure_weight_tying false) unties them: a saved lm_head is a copy of the embedding
 * that trains on its own while the embedding stays the original, and a saved embedding leaves the head on the
 * original; a merged model then stores lm_head.weight with tie_word_embeddings false.
 *
 * Not done here: adapters on embeddings or the LM head, DoRA, bias training, modules_to_save other than the
 * embeddings, the LM head and score, PEFT's ensure_weight_tying, PiSSA/OLoRA/LoftQ inits (refused), several
 * adapters at once. Nothing here is thread-safe. */
#ifndef VKT_FINETUNE_LORA_H
#define VKT_FINETUNE_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"

#define VKT_LORA_MAX_TARGETS 32
#define VKT_LORA_MAX_SAVE 8 /* modules_to_save names */
#define VKT_LORA_SAVED 3    /* modules that can be saved: wte, wpe, LM head */

typedef enum {
    VKT_LORA_INIT_DEFAULT = 0, /* init_lora_weights true: A Kaiming-uniform, B zero */
    VKT_LORA_INIT_GAUSSIAN,    /* "gaussian": A ~ N(0, (1/r)^2), B zero */
    VKT_LORA_INIT_NONE,        /* false: A and B both nn.Linear's default (non-zero start, for tests) */
} vkt_lora_init;

typedef struct {
    int64_t r;                              /* rank, > 0 */
    double lora_alpha;                      /* scale numerator (PEFT default 8) */
    bool use_rslora;                        /* s = alpha / sqrt(r) instead of alpha / r */
    double lora_dropout;                    /* dropout on the adapter input in training, [0, 1) */
    char targets[VKT_LORA_MAX_TARGETS][96]; /* module-name suffixes (PEFT's list form) */
    int n_targets;
    bool all_linear;        /* target_modules "all-linear" */
    char target_regex[256]; /* target_modules given as one string (not "all-linear"): full-match regex */
    vkt_lora_init init;
    uint64_t seed;        /* initialisation */
    bool score_head;      /* PEFT's modules_to_save ["score"] of a SEQ_CLS adapter: a trained (1, C) reward head
                           * (model/score_head.h), table entry base_model.model.score.weight after every lora_A /
                           * lora_B. It starts at zero (transformers draws N(0, initializer_range)): every reward
                           * is 0 at first, so the first Bradley-Terry loss is ln 2 exactly, as a fresh DPO
                           * adapter's is, and the run does not depend on a draw the base model never made */
    char base_model[512]; /* base_model_name_or_path written to adapter_config.json */
    char modules_to_save[VKT_LORA_MAX_SAVE][96]; /* PEFT's modules_to_save besides "score": module-path suffixes */
    int n_save;
} vkt_lora_cfg;

/* PEFT's defaults: r 8, lora_alpha 8, no targets (the caller must name some), default init, seed 0. */
vkt_lora_cfg vkt_lora_cfg_default(void);
/* Rejects impossible values (r <= 0, dropout outside [0, 1), alpha not finite, no targets), naming the
 * adapter_config.json / finetune key. VKT_ERR_ARG. */
vkt_status vkt_lora_cfg_check(const vkt_lora_cfg *c);
/* Adds a target_modules entry ("all-linear" sets all_linear). VKT_ERR_ARG when full. */
vkt_status vkt_lora_cfg_add_target(vkt_lora_cfg *c, const char *name);
/* Adds a modules_to_save entry (not "score": that is cfg.score_head). VKT_ERR_ARG when full or empty. */
vkt_status vkt_lora_cfg_add_save(vkt_lora_cfg *c, const char *name);

/* One adapted linear layer. */
typedef struct {
    char module[96]; /* Hugging Face module path, e.g. model.layers.0.self_attn.q_proj */
    int layer;
    vkt_param_role role;      /* the base weight's role (VKT_ROLE_K_W, ...) */
    vkt_param_role hook_role; /* the role the model's hook passes: the first of the fused group */
    int64_t in, out;          /* the base weight is (out, in) */
    int64_t col0, ldy;        /* the module's columns [col0, col0 + out) of a fused output ldy wide */
    int a, b;                 /* indices of lora_A and lora_B in the adapter's table */
    vkt_tensor u;             /* (BT, r) x A^T from the forward, for the backward */
} vkt_lora_module;

typedef struct vkt_lora {
    vkt_lora_cfg cfg;
    float scale;           /* s */
    vkt_model *model;      /* borrowed; its hook points at this adapter while attached */
    vkt_param_table table; /* owned: lora_A / lora_B per module under PEFT's key names
                            * (base_model.model.<module>.lora_A.weight), rows x cols as PEFT stores them */
    vkt_lora_module *mods; /* owned, n_mods */
    int n_mods;
    vkt_arena *params_arena, *grads_arena, *acts_arena; /* owned */
    vkt_tensor params, grads;                           /* flat (table.total) f32 */
    vkt_arena *half_arena;                              /* owned, mixed precision only */
    vkt_tensor params_half; /* mixed precision (the model's act_dtype f16 / bf16): the adapter copy the hooks
                             * read, refreshed by vkt_lora_upload and by AdamW; arena NULL otherwise. The
                             * intermediates (u, g, dropout scratch) are then in that dtype too */
    vkt_tensor g;                                       /* (BT, r) backward scratch */
    vkt_tensor counter;                                 /* (1) u32 training passes so far (dropout masks) */
    vkt_tensor xd, tmp;                                 /* (BT, largest in) dropout scratch, else empty */
    int64_t dropout_row0;                               /* vkt_lora_dropout.row0 (0 unless set) */
    vkt_linear_hook hook;                               /* what vkt_lora_attach installs in model->hook */
    int n_saved;                          /* modules_to_save copies (lora_save.c), table entries saved_first.. */
    int saved_first;
    vkt_param_role saved_role[VKT_LORA_SAVED]; /* VKT_ROLE_WTE / WPE / LM_HEAD, in table order */
    vkt_model_saved saved;        /* views of the copies the passes read (the 16-bit copy under mixed precision)
                                   * and their f32 gradients: model->saved when attached */
    vkt_model_saved saved_master; /* the f32 copies, no gradients: what an f32 mirror (generation) reads */
} vkt_lora;

/* Names of the model's linear modules ("all-linear" set), comma-separated into buf, for messages. */
void vkt_lora_module_names(const vkt_model *m, char *buf, size_t n);

/* Builds the adapter for m (its table, arenas and hook) and initialises it from cfg->seed; not yet attached.
 * Errors (VKT_ERR_ARG, logged): r <= 0, dropout > 0, a target that matches nothing (the message lists the
 * model's module names), a bad regex. The caller owns *out (vkt_lora_destroy). */
vkt_status vkt_lora_create(vkt_model *m, const vkt_lora_cfg *cfg, vkt_lora **out);
/* What vkt_lora_create would allocate for a model with table t and config mc at BT rows, in precision (the
 * model's act_dtype) (host only, nothing allocated): for the fine-tuning memory plan. Errors as
 * vkt_lora_create's for the targets. */
typedef struct {
    size_t params, grads; /* f32 lora_A / lora_B and their gradients */
    size_t half;          /* mixed precision: their 16-bit copy */
    size_t acts;          /* the (BT, r) intermediates u kept for the backward */
    size_t scratch;       /* backward scratch, pass counter, dropout buffers */
    int64_t n_params;
    int n_mods;
} vkt_lora_bytes;
vkt_status vkt_lora_plan_bytes(const vkt_param_table *t, const vkt_model_config *mc, const vkt_lora_cfg *cfg,
                               int64_t BT, int64_t align_elems, vkt_dtype precision, vkt_lora_bytes *out);

/* Detaches (if attached) and frees; safe on NULL. */
void vkt_lora_destroy(vkt_lora *l);

/* Installs / removes the hook in the model: from then on its recorded forward and backward include the
 * adapters. Recordings made before attach do not. */
void vkt_lora_attach(vkt_lora *l);
void vkt_lora_detach(vkt_lora *l);

/* Sets the dropout pass counter (training micro-batches run so far: step * grad_accum on resume). */
vkt_status vkt_lora_set_pass_counter(vkt_lora *l, uint32_t passes);
/* Data-parallel ranks: the model's rows are rows row0.. of the global batch, and draw those rows' dropout
 * masks (the same as one process running the whole batch). Before recording. */
static inline void vkt_lora_set_dropout_row0(vkt_lora *l, int64_t row0) { l->dropout_row0 = row0; }

/* True when the adapter's saved modules untie the model's tied embeddings (a saved embedding or LM head on a
 * model with tie_word_embeddings): its merged form needs its own lm_head.weight. */
bool vkt_lora_unties(const vkt_lora *l);

/* The score head's weight and gradient views ((1, C) each); false when the adapter has none. */
bool vkt_lora_score_views(const vkt_lora *l, vkt_tensor *w, vkt_tensor *dw);

/* Host copies of the adapter parameters (table.total floats, table order) in and out. */
vkt_status vkt_lora_upload(vkt_lora *l, const float *host);
vkt_status vkt_lora_download(vkt_lora *l, float *host);
/* Records zeroing of the adapter gradients. */
vkt_status vkt_lora_record_zero_grads(vkt_lora *l, vkt_rec *r);

/* Adds s B A into the model's base weights on the device (W += s B A per module) and copies the saved modules
 * over the model's: the merged model computes what the adapted one does, without the hook (sampling, export).
 * The base weights change (and a mixed-precision model's 16-bit copy with them): only for a model that is not
 * trained further. Synchronous. VKT_ERR_UNSUPPORTED for a
 * quantized base, or a tied model whose saved modules untie it (vkt_lora_unties; merge on the host instead). */
vkt_status vkt_lora_merge_into_model(vkt_lora *l);

/* Applies the adapter inside another model's forward: an inference copy of the same base (generation from
 * the model being trained, train/generate.h). The mirror reads l's parameters where they live, so it always
 * computes with the current adapter; it has its own scratch, no dropout and no backward. It installs
 * itself as m's hook (before m records anything); destroy it before m. */
typedef struct vkt_lora_mirror vkt_lora_mirror;
vkt_status vkt_lora_mirror_create(vkt_lora *l, vkt_model *m, vkt_lora_mirror **out);
void vkt_lora_mirror_destroy(vkt_lora_mirror *mi); /* NULL-safe */

/* The same merge on a host copy of the model's parameters (table layout), in double then rounded; saved
 * modules are copied unless they untie the model (then they are left out). */
void vkt_lora_merge_host(const vkt_lora *l, const float *adapter, float *model_params);

#endif
