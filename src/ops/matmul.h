/* Matrix multiplication: C = alpha * op(A) * op(B) [+ bias] [+ C], batched, and the Linear layer built on it.
 *
 * Storage is row-major. op(A) is (M, K): A is stored (M, K), or (K, M) when trans_a. op(B) is (K, N): B is
 * stored (K, N), or (N, K) when trans_b. C is stored (M, N). Batches are `batch` matrices spaced by element
 * strides per operand (0 broadcasts one operand to every batch).
 *
 * A Linear layer y = x W^T + b with W stored (out, in) as Hugging Face does maps to:
 *   forward      y  = x W^T + b      NT, overwrite        (M = rows of x, N = out, K = in)
 *   input grad   dx = dy W           NN, overwrite        (M = rows, N = in, K = out)
 *   weight grad  dW += dy^T x        TN, accumulate       (M = out, N = in, K = rows)
 *   bias grad    db += colsum(dy)    deterministic column sums, no atomics
 * vkt_op_matmul_fwd / _bwd record exactly that.
 *
 * Tiles: each kernel's workgroup and register tile sizes are tuned per device and class of shapes the first
 * time the class is recorded (ops/matmul_tune.h; VKT_TUNE=0 keeps the defaults).
 * Kernel variants, chosen per device (env VKT_MATMUL_VARIANT=<name> forces one; see vkt_matmul_variant):
 *   reg      barrier-free register tiles, for CPU drivers (lavapipe): each workgroup owns a few rows and each
 *            invocation a tile of columns; operands aligned to 8 elements load 8 at a time (matmul_wide: 32
 *            bytes of f32, or 16 bytes of f16 / bf16 widened in registers). On those operands, products with
 *            N <= 64 and M >= 64 (a LoRA branch's rank-r products u = x A^T, du = dy B, dB += dy^T u) run
 *            matmul_narrow instead, whose lanes run along M (C's row stride, window start and N multiples of 8
 *            too): the same sums in the same order, 5-10x faster there.
 *   smem     shared-memory tiles, for GPUs.
 *   coopmat  GL_NV_cooperative_matrix (f16 inputs, f32 accumulate); built only when glslang supports it and
 *            chosen only when the device reports a 16x16x16 f16 x f16 -> f32 shape.
 * Storage dtypes: A and B share f32, f16 or bf16 (16-bit needs storageBuffer16BitAccess); arithmetic and
 * accumulation are f32. C is f32, or A's 16-bit dtype (a half activation: the *_c16 kernels round the f32
 * result once when storing it); the bias has C's dtype. Mixed precision training (issue 10) uses:
 *   y  = x W^T + b   x, W, b, y half         (activations and the half weight copy share the run's dtype)
 *   dx = dy W        dy, W, dx half
 *   dW += dy^T x     dy, x half, dW f32      (parameter gradients are always f32, accumulated in f32)
 *   db += colsum(dy) dy half, db f32
 * Accumulating into a 16-bit C works but rounds C once per K chunk (K splits only at the binding limit).
 * Anything else (mixed A/B dtypes, f16 C with bf16 inputs, f32 A with half C) is VKT_ERR_ARG, logged.
 *
 * Operands of any size are split into dispatches whose bound windows fit one storage binding
 * (vkt_rec_max_binding_bytes), along batch, M, N and, with accumulation, K.
 * Speed on CPU drivers: the fast path needs K and each operand's contiguous dimension to be multiples of 8.
 * When the row strides are multiples of 8 but K (or M with transposed A) is not, the aligned bulk takes the
 * fast path and the last < 8 k or rows the general kernel (the model's training logits have rows padded
 * for this: V = 50257 in rows of 50304). When A's row stride itself is odd (NN with odd K, TN with odd M
 * over contiguous rows), the product is split into 8 row classes whose aligned middles still use it (about
 * 0.85x the aligned speed at large K; a read-modify-write of C per class); other misaligned shapes run on
 * the general kernel, 2-3x slower. (The row classes are f32 only. With a 16-bit C, a K tail is not split off,
 * which would round C twice: the fast kernel runs it as a scalar loop.)
 * Not done here: C aliasing A or B (undefined), integer types, epilogue activations.
 * All functions only record into r (no submission); like the recorder they are not thread-safe. */
#ifndef VKT_OP_MATMUL_H
#define VKT_OP_MATMUL_H

#include <stdbool.h>

#include "ops/matmul_tile.h"
#include "vk/record.h"

typedef enum {
    VKT_MATMUL_AUTO = 0,
    VKT_MATMUL_REG = 1,
    VKT_MATMUL_SMEM = 2,
    VKT_MATMUL_COOPMAT = 3,
} vkt_matmul_variant;

/* An activation applied as C is stored, with a second tensor `aux` laid out as C (same dtype, ldc and stride_c):
 *   GELU       C = the product as usual (the pre-activation), aux = gelu(C)
 *   GELU_GRAD  C = product * gelu'(aux), aux holding the pre-activation (the input gradient through GELU)
 * Both equal the plain product followed by vkt_op_gelu_fwd / vkt_op_gelu_bwd over C bit for bit. The fast CPU
 * kernel does it in its store (one pass: no read of C back, no separate dispatch) when C's layout allows its
 * word store and K is not split; elsewhere the separate pass runs. Not with accumulate. */
typedef enum { VKT_MM_ACT_NONE = 0, VKT_MM_ACT_GELU = 1, VKT_MM_ACT_GELU_GRAD = 2 } vkt_matmul_act;

typedef struct {
    int64_t m, n, k;                      /* op(A) is (m, k), op(B) is (k, n), C is (m, n) */
    bool trans_a, trans_b;                /* A stored (k, m); B stored (n, k) */
    int64_t batch;                        /* number of products (0 means 1) */
    int64_t stride_a, stride_b, stride_c; /* elements between batches; 0 for A/B broadcasts (C must be > 0
                                             when batch > 1); ignored when batch <= 1 */
    float alpha;                          /* scale of the product; 0 (a zero-initialised desc) means 1 */
    bool accumulate;                      /* C += product (C is read); else C is overwritten */
    int64_t lda, ldb, ldc;                /* row strides in elements of A, B, C as stored; 0: contiguous
                                             (the stored row length). ldc > n lets a product fill a column
                                             window of a wider matrix (a LoRA branch of a fused q|k|v output) */
    vkt_matmul_variant variant;           /* AUTO: env VKT_MATMUL_VARIANT, else the device's best */
    const vkt_matmul_force *force;        /* NULL: each kernel's tuned (or default) tile, ops/matmul_tune.h;
                                             else this kernel and tile wherever the operands allow it
                                             (a forced wide tile leaves misaligned parts on the general
                                             kernel's default); for tests and the tuner */
    vkt_matmul_act act;                   /* NONE, or an activation on the way out with aux (see above) */
    const vkt_tensor *aux;
    const vkt_tensor *a_row_sums;         /* NULL, or (m) f32 += the row sums of op(A), A transposed and
                                             contiguous, no batch: a Linear layer's bias gradient beside its
                                             weight gradient dW += dy^T x. The fast CPU kernel adds them up in
                                             its K loop (each row in k order, as vkt_op_matmul_colsum); other
                                             kernels leave them to vkt_op_matmul_colsum. Not with act. */
} vkt_matmul_desc;

/* Records C (+)= alpha * op(A) op(B) + bias for every batch.
 *   a     (batch, m, k) or (batch, k, m) with trans_a, at element strides stride_a
 *   b     (batch, k, n) or (batch, n, k) with trans_b
 *   bias  (n) f32 added to every row, or NULL
 *   c     (batch, m, n) f32
 * The tensors' shapes are not interpreted beyond their element counts, which must cover the strides.
 * With row strides (lda/ldb/ldc) only the elements of each stored row's first columns are read or
 * written: a C window's other columns are left as they are.
 * Errors: VKT_ERR_UNSUPPORTED when a forced variant or a 16-bit dtype is not available on this device. */
vkt_status vkt_op_matmul(vkt_rec *r, const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *bias,
                         const vkt_tensor *c, const vkt_matmul_desc *d);

/* db += sum over rows of dy. dy (rows, n) f32, f16 or bf16; db (n) f32 (a parameter gradient). Each column is summed in
 * row order by one invocation: deterministic run to run. */
vkt_status vkt_op_matmul_colsum(vkt_rec *r, const vkt_tensor *dy, const vkt_tensor *db, int64_t rows, int64_t n);

/* Linear forward y = x W^T + b.
 *   x     (rows, in)    f32, f16 or bf16
 *   w     (out, in)     same dtype as x
 *   bias  (out) y's dtype, or NULL
 *   y     (rows, out)   f32 or x's dtype, overwritten */
vkt_status vkt_op_matmul_fwd(vkt_rec *r, const vkt_tensor *x, const vkt_tensor *w, const vkt_tensor *bias,
                             const vkt_tensor *y, int64_t rows, int64_t in, int64_t out);

/* Linear backward: dx = dy W (overwritten), dW += dy^T x, db += colsum(dy). Any of dx, dw, db may be NULL
 * to skip it (frozen weights, no bias, first layer).
 *   dy    (rows, out)  f32, f16 or bf16
 *   x     (rows, in)   dy's dtype, the forward's input
 *   w     (out, in)    dy's dtype
 *   dx    (rows, in)   f32 or dy's dtype;  dw (out, in) f32;  db (out) f32 (parameter gradients stay f32) */
vkt_status vkt_op_matmul_bwd(vkt_rec *r, const vkt_tensor *dy, const vkt_tensor *x, const vkt_tensor *w,
                             const vkt_tensor *dx, const vkt_tensor *dw, const vkt_tensor *db, int64_t rows,
                             int64_t in, int64_t out);

/* The variant vkt_op_matmul would use on this device for inputs of dtype `dt` (after VKT_MATMUL_VARIANT),
 * and its name ("reg", "smem", "coopmat"). */
vkt_matmul_variant vkt_matmul_pick(const vkt_rec *r, vkt_dtype dt, vkt_matmul_variant requested);
const char *vkt_matmul_variant_name(vkt_matmul_variant v);
/* True when the reg variant may use its fast kernel (matmul_wide) for these operands: f32, f16 or bf16, K and the
 * contiguous dimension of each operand multiples of 8, 32-byte aligned tensors and batch strides (a split
 * that cannot keep box edges on multiples of 8 still falls back to the general kernel). */
bool vkt_matmul_wide_ok(const vkt_tensor *a, const vkt_tensor *b, const vkt_matmul_desc *d);
/* True when the reg variant runs these operands (C as c) on matmul_narrow rather than matmul_wide: see above.
 * Splits whose boxes cannot keep edges on multiples of 8 still fall back to matmul_wide. */
bool vkt_matmul_narrow_ok(const vkt_tensor *a, const vkt_tensor *b, const vkt_tensor *c, const vkt_matmul_desc *d);

#endif
