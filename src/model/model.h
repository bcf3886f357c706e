/* A transformer on the device: parameters, gradients and activations planned once for a (B, T), and
 * the recording of its forward (with the loss) and backward passes.
 *
 * Memory: three arenas. params and grads hold every tensor of the parameter table at the table's
 * offsets (so the optimizer and gradient-norm ops see one flat tensor each); acts holds the activations
 * the backward needs plus backward scratch, sized for (B, T). Frozen parameters (fine-tuning) simply get
 * no gradient: grads == NULL for the model or per tensor via `trainable`.
 *
 * The forward records: embedding, L blocks, final norm, LM head, fused softmax + cross-entropy whose
 * backward (dlogits, in place over the logits) is produced in the same pass. The backward then runs the
 * blocks in reverse, accumulating (+=) into parameter gradients, so gradient accumulation over
 * micro-batches is just replaying forward + backward before the optimizer. */
#ifndef VKT_MODEL_H
#define VKT_MODEL_H

#include <stdbool.h>

#include "model/model_base.h"
#include "model/params.h"
#include "vk/record.h"

typedef struct {
    vkt_tensor norm1, norm1_mean, norm1_rstd; /* (BT, C), (BT), (BT): mean unused for RMSNorm */
    vkt_tensor qkv;                           /* (BT, (NH + 2 KVH) HS), after RoPE for LLaMA */
    vkt_tensor atty, lse;                     /* (BT, NH HS), (B, NH, T) */
    vkt_tensor res_attn;                      /* (BT, C) residual stream after attention */
    vkt_tensor norm2, norm2_mean, norm2_rstd; /* (BT, C), (BT), (BT) */
    vkt_tensor fc;                            /* GPT-2: (BT, F) pre-GELU; LLaMA: (BT, 2F) gate | up */
    vkt_tensor fc_act;                        /* (BT, F) GELU(fc) or SiLU(gate) * up */
    vkt_tensor res_mlp;                       /* (BT, C) residual stream after the MLP: the block output */
} vkt_layer_acts;

/* A trainable branch on the model's linear layers (fine-tuning adapters live in src/finetune/ and fill
 * this in; the model knows nothing else about them). After each linear layer's forward the model calls
 * fwd(ctx, r, layer, role, x, y): x (BT, in) the layer's input, y (BT, out) its output, which the hook may
 * add to. After the layer's backward has written dx = dy W, it calls bwd with dy (BT, out) and dx (BT, in),
 * which the hook may add to. role names the linear: the first role of a fused group (VKT_ROLE_Q_W for
 * q|k|v, VKT_ROLE_GATE_W for gate|up), or VKT_ROLE_QKV_W, VKT_ROLE_O_W, VKT_ROLE_FC_W, VKT_ROLE_DOWN_W.
 * The LM head is not hooked. A hook with nothing on a layer records nothing. */
typedef struct {
    void *ctx; /* borrowed: the adapter */
    vkt_status (*fwd)(void *ctx, vkt_rec *r, int layer, vkt_param_role role, const vkt_tensor *x,
                      const vkt_tensor *y);
    vkt_status (*bwd)(void *ctx, vkt_rec *r, int layer, vkt_param_role role, const vkt_tensor *x,
                      const vkt_tensor *dy, const vkt_tensor *dx);
} vkt_linear_hook;

/* Global weights an adapter trains in its own memory in place of the model's (PEFT's modules_to_save:
 * finetune/lora.h fills this in; the model knows nothing else about it). A tensor with an arena is read instead
 * of the model's own, which stays untouched, and its gradient, when set, accumulates in the backward (a FROZEN
 * model computes it too). head replaces what the LM head reads, which is wte for tied embeddings: a saved head
 * unties from the embedding, and a saved embedding leaves a tied head on the original, as PEFT's trainable
 * copies do. */
typedef struct {
    vkt_tensor wte, wpe, head;    /* (V, C), (P, C), (V, C), or empty: the model's own */
    vkt_tensor dwte, dwpe, dhead; /* their gradients, or empty: none */
} vkt_model_saved;

/* Called while the backward is recorded, after each block's backward (layer L-1 down to 0): from there on
 * the gradients of that block and of everything above it (final norm, LM head) are complete, and their
 * data-parallel reduction may start while the blocks below run (dist/grad_buckets.h). */
typedef struct {
    void *ctx; /* borrowed */
    vkt_status (*block_done)(void *ctx, vkt_rec *r, int layer);
} vkt_backward_hook;

/* What a model is created for. */
typedef enum {
    VKT_MODEL_INFER = 0,  /* forward only: no gradients, no backward scratch */
    VKT_MODEL_TRAIN = 1,  /* gradients of every parameter and backward scratch */
    VKT_MODEL_FROZEN = 2, /* backward scratch but no parameter gradients: the backward computes only the
                           * activation gradients through the frozen weights (for adapters via the hook) */
} vkt_model_mode;

typedef struct {
    vkt_model_config cfg;
    vkt_param_table table;
    int64_t B, T;
    vkt_device *dev;             /* borrowed */
    vkt_arena *params_arena, *grads_arena, *acts_arena; /* owned */
    vkt_tensor params, grads;    /* flat f32 views: grads (table.total); params (base.params_total), which is
                                  * table.total unless the linear weights are stored quantized (model_base.h) */
    vkt_dtype act_dtype;         /* storage of activations, activation gradients and the weights the forward
                                  * and backward read: F32, or F16 / BF16 for mixed-precision training */
    vkt_arena *half_arena;       /* owned, mixed precision only (else NULL) */
    vkt_tensor params_half;      /* (base.params_total) act_dtype: the half copy of params the passes read, in
                                  * the same layout; AdamW refreshes it with every update, and
                                  * vkt_model_refresh_half after host uploads */
    vkt_model_base base;         /* owned: how the linear weights are stored (F32: in params like the rest) */
    vkt_arena *io_arena;         /* owned, host-visible: input batches and loss statistics */
    vkt_tensor tokens_slot[2], targets_slot[2], stats_slot[2]; /* double-buffered: the host fills one
                                                                  slot while the device reads the other */
    vkt_tensor seg_start_slot[2]; /* (B, T) i32 per slot: each position's document start (packed rows,
                                   * ops/seg_start.h); zero at creation, so unpacked users never touch it */
    vkt_tensor tokens, targets;  /* (B, T) i32: the slot the next recording uses (vkt_model_use_slot) */
    vkt_tensor seg_start;        /* (B, T) i32: that slot's document starts; attention, RoPE and position
                                  * embeddings of every training and loss forward read it */
    vkt_tensor embed_out;        /* (BT, C) residual stream entering layer 0 */
    vkt_layer_acts *layers;      /* owned array (L) */
    vkt_tensor normf, normf_mean, normf_rstd; /* (BT, C), (BT), (BT) */
    vkt_tensor logits;           /* (BT, V): logits, then dlogits in place (see logits_pad) */
    vkt_tensor logits_pad;       /* (BT, Vp): the same memory in rows padded to Vp (V rounded up to a multiple
                                  * of 128 when V is not one of 8, else V): a training forward's logits and
                                  * dlogits (VKT_FWD_LOSS_GRAD), so the LM head's backward runs on the fast
                                  * matmul path; the padding is never read or written */
    int64_t dlogits_ld;          /* row stride of the dlogits the backward reads: Vp after a VKT_FWD_LOSS_GRAD
                                  * forward is recorded, else V (set by vkt_model_record_forward) */
    vkt_tensor losses;           /* (BT) per-position loss */
    vkt_tensor loss_stats;       /* (4) vkt_xent_stats of the current slot: mean loss, n_valid, ... */
    vkt_tensor xent_rowstats;    /* (BT, 2) for the loss-only forward */
    /* backward scratch */
    vkt_tensor dres, dtmp_c;          /* (BT, C) residual-stream gradient and a (BT, C) temporary */
    vkt_tensor dqkv;             /* (BT, (NH + 2 KVH) HS) */
    vkt_tensor datty;            /* (BT, NH HS) */
    vkt_tensor dfc, dfc_act;     /* (BT, F or 2F), (BT, F) */
    vkt_tensor delta;            /* (B, NH, T) attention backward scratch */
    vkt_tensor embed_scratch;    /* (BT) i32 */
    vkt_tensor norm_scratch;     /* norm backward partial sums (size from the op) */
    vkt_tensor rope_table;       /* (max positions, HS/2, 2) cos/sin, LLaMA only */
    vkt_tensor dnorm_sink[2];    /* (C) each, frozen models only: where norm weight and bias gradients go,
                                    never read */
    const vkt_linear_hook *hook; /* borrowed, NULL: none; set by the adapter before recording */
    const vkt_model_saved *saved; /* borrowed, NULL: none; set by the adapter before recording */
    const vkt_backward_hook *bwd_hook; /* borrowed, NULL: none; set around a recording by the step scheduler */
    bool training;               /* set by vkt_model_record_forward: a training pass (VKT_FWD_LOSS_GRAD and its
                                  * backward) is being recorded, so hooks apply train-only ops (dropout) */
    float dloss;                 /* scale of the loss gradient (1 / gradient-accumulation steps) */
    vkt_tensor dloss_scale;      /* f16 loss scaling: an f32 tensor whose element dloss_scale_index further
                                  * multiplies the loss gradient at run time (the step scalars' loss_scale,
                                  * set by the step); arena NULL: none */
    int64_t dloss_scale_index;
    bool bidirectional;          /* attention without the causal mask (masked-token objective) */
    bool recompute;              /* activation recomputation (vkt_model_create_ex) */
    int64_t pos0;                /* position of the first token (KV-cache sampling); 0 in training */
    int64_t pos0_max;            /* largest pos0 the rope table covers (set before create for sampling) */
    /* KV-cache decoding (model_decode.h); kv_len 0 and tensors empty otherwise */
    int64_t kv_len;              /* Tmax: positions the caches hold */
    vkt_tensor k_cache, v_cache; /* (L Tmax, KVH HS) each, layer l at rows [l Tmax, (l + 1) Tmax) */
    vkt_tensor dec_pos;          /* (2) i32 host-visible: [0] = position of the next decode forward's first token */
    vkt_tensor dec_last;         /* (1, C) the last new position's residual stream */
    vkt_tensor dec_logits;       /* (1, V) host-visible copy of that position's logits */
} vkt_model;

/* Plans and allocates everything for batches of (B, T); parameters are zero until initialised or
 * loaded. with_grads false plans an inference-only model (no grads, no backward scratch). */
vkt_status vkt_model_create(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T, bool with_grads,
                            vkt_model **out);
/* The same, optionally with activation recomputation: only each block's output is kept, and the backward
 * runs each block's forward again just before its backward (about one more forward pass of compute for
 * an activation memory of one block plus L residual streams). */
vkt_status vkt_model_create_ex(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T, bool with_grads,
                               bool recompute, vkt_model **out);
/* The same for any mode (vkt_model_create_ex: with_grads = TRAIN, else INFER). recompute needs a backward
 * (TRAIN or FROZEN). */
vkt_status vkt_model_create_mode(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T,
                                 vkt_model_mode mode, bool recompute, vkt_model **out);
/* Everything a model is created with besides its shape. */
typedef struct {
    vkt_model_mode mode;
    bool recompute;          /* needs a backward (TRAIN or FROZEN) */
    vkt_qformat base_format; /* storage of the block linear weights (model_base.h); not F32 only for
                              * models whose weights do not train (INFER or FROZEN), else VKT_ERR_ARG */
    vkt_dtype precision;     /* F32 (default), or F16 / BF16: mixed precision (TRAIN only, F32 base). f32
                              * master weights and gradients; the passes read a half copy (params_half) and
                              * store activations and their gradients in this dtype; norms' statistics,
                              * softmax, losses and every accumulation stay f32 */
} vkt_model_opts;
vkt_status vkt_model_create_opts(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T,
                                 const vkt_model_opts *opts, vkt_model **out);
void vkt_model_destroy(vkt_model *m);

/* Points tokens, targets, seg_start and loss_stats at slot s (0 or 1) for the recordings that follow. */
void vkt_model_use_slot(vkt_model *m, int s);
/* Host pointers of slot s: tokens, targets and document starts (B*T i32 each) to fill, and its loss
 * statistics. The document starts stay as last written (zero from creation: one document per row). */
int32_t *vkt_model_slot_tokens(const vkt_model *m, int s);
int32_t *vkt_model_slot_targets(const vkt_model *m, int s);
int32_t *vkt_model_slot_seg_start(const vkt_model *m, int s);
const float *vkt_model_slot_stats(const vkt_model *m, int s);

/* Parameter and gradient views of table entry e, shaped (rows, cols). A parameter stored quantized has
 * no f32 view (asserted): use vkt_model_param_stored first. */
vkt_tensor vkt_model_param(const vkt_model *m, const vkt_param *e);
/* True when e is held as a quantized blob (model_base.h), not in the f32 parameter arena. */
bool vkt_model_param_stored(const vkt_model *m, const vkt_param *e);
vkt_tensor vkt_model_grad(const vkt_model *m, const vkt_param *e);
/* A fused group starting at e (q|k|v or gate|up) as one (group rows, cols) view. */
vkt_tensor vkt_model_param_group(const vkt_model *m, const vkt_param *e);
vkt_tensor vkt_model_grad_group(const vkt_model *m, const vkt_param *e);

/* GPT-2 style initialisation from a seed: N(0, init_std) for matrices and embeddings, output projections
 * of each residual branch scaled by 1/sqrt(2 L), norm weights 1, biases 0. Host-side, then uploaded. */
vkt_status vkt_model_init_weights(vkt_model *m, uint64_t seed);
/* Host copies of all parameters (table.total floats) in and out. Upload quantizes the linear weights
 * of a model with a quantized base; download returns them dequantized. */
vkt_status vkt_model_upload_params(vkt_model *m, const float *host);
vkt_status vkt_model_download_params(const vkt_model *m, float *host);
/* Mixed precision: records params_half = half(params) (the upload functions already do it; call it after
 * anything else writes params, e.g. a data-parallel all-gather). Nothing for an f32 model. */
vkt_status vkt_model_record_refresh_half(vkt_model *m, vkt_rec *r);
/* The same, submitted and waited for. */
vkt_status vkt_model_refresh_half(vkt_model *m);

typedef enum {
    VKT_FWD_LOGITS = 0,    /* logits only (sampling) */
    VKT_FWD_LOSS = 1,      /* plus the loss against m->targets (evaluation) */
    VKT_FWD_LOSS_GRAD = 2, /* plus dlogits in place of the logits, ready for the backward (training) */
    VKT_FWD_LOSS_TRAIN = 3, /* the forward of a training pass whose loss gradient the caller records: per-
                             * position losses and row statistics (xent_rowstats) as VKT_FWD_LOSS, with
                             * train-only ops (adapter dropout) on; the caller writes dlogits over the logits
                             * (e.g. vkt_op_xent_bwd_weighted) before vkt_model_record_backward */
    VKT_FWD_HIDDEN = 4,       /* stops after the final norm: m->normf (BT, C) is the output, no LM head or loss
                               * (heads of their own on the hidden state: model/score_head.h) */
    VKT_FWD_HIDDEN_TRAIN = 5, /* the same in a training pass (dropout on), for vkt_model_record_backward_hidden */
} vkt_fwd_mode;

/* Forward over m->tokens. */
vkt_status vkt_model_record_forward(vkt_model *m, vkt_rec *r, vkt_fwd_mode mode);
/* Backward from dlogits (left by the forward) into m->grads (accumulating); a FROZEN model computes the
 * activation gradients only (for the hook). */
vkt_status vkt_model_record_backward(vkt_model *m, vkt_rec *r);
/* Backward from a gradient of the final-norm output instead of dlogits, after a VKT_FWD_HIDDEN_TRAIN forward:
 * dhidden (BT, C) f32 is d(loss)/d(m->normf); the LM head gets no gradient. dhidden may be m->dtmp_c (read
 * before the blocks reuse it). Otherwise as vkt_model_record_backward. */
vkt_status vkt_model_record_backward_hidden(vkt_model *m, vkt_rec *r, const vkt_tensor *dhidden);
/* Records zeroing of every gradient (nothing for a model without gradients). */
vkt_status vkt_model_record_zero_grads(vkt_model *m, vkt_rec *r);

/* What a model would take on the device, planned on the host without allocating anything. */
typedef struct {
    size_t linear;  /* the block linear weights in their storage format (f32 or blobs) */
    size_t other;   /* the f32 parameter arena without them: embeddings, norms, biases, LM head */
    size_t grads;   /* TRAIN only: every parameter's f32 gradient */
    size_t acts;    /* activations and backward scratch (vkt_model_memory's acts) */
    size_t half;    /* mixed precision: the half weight copy (0 for f32) */
    size_t io;      /* host-visible batch slots and loss statistics */
} vkt_model_bytes;
vkt_status vkt_model_plan_bytes(vkt_device *dev, const vkt_model_config *cfg, int64_t B, int64_t T,
                                const vkt_model_opts *opts, vkt_model_bytes *out);

/* Bytes per arena, for the plan printout (params includes the quantized base's blob arena and the mixed-
 * precision half copy). */
void vkt_model_memory(const vkt_model *m, size_t *params, size_t *grads, size_t *acts);

#endif
