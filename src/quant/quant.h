/* Frozen-weight storage formats for LoRA / QLoRA base weights, and their host quantizers.
 *
 * A Linear weight W (out, in), row-major f32 on the host, is packed into one byte blob, the "device
 * layout", which is uploaded as it is (a U8 tensor, see vkt_qweight in ops/qmatmul.h) and read by the
 * qmatmul kernels, which dequantize in registers or shared memory: no full-size f32 copy ever exists on
 * the device. Formats:
 *
 *   F32   data: f32 W[out][in]                              4 bytes per weight
 *   F16   data: IEEE binary16 W[out][in], rounded to nearest even (|w| > 65504 is refused)
 *   BF16  data: bfloat16 W[out][in] (the top 16 bits of f32, rounded to nearest even)
 *   INT8  per-output-channel absmax: scale[o] = max_i |W[o][i]| / 127 (f32 division),
 *         q[o][i] = round-half-even(W[o][i] / scale[o]) clamped to [-127, 127] (0 for an all-zero row);
 *         W' = q * scale[o].  data: int8 q[out][in]; scale: f32 scale[out].
 *   NF4   bitsandbytes' NF4 with double quantization (quantize_4bit(quant_type="nf4", blocksize=64,
 *         compress_statistics=True)), bit for bit as its CUDA kernels write it:
 *         - flatten W row-major (element e = o * in + i); blocks of 64 consecutive elements, so when
 *           in % 64 != 0 blocks straddle rows exactly as bitsandbytes' do; n_blocks = ceil(out*in / 64).
 *         - absmax[b] = max |x| over block b (f32); s = x * (1.0f / absmax[b]) (a multiply by the f32
 *           reciprocal, as the kernel does; an all-zero block gives 0 * inf = NaN, which maps to code 0).
 *         - code c in 0..15 = number of thresholds t_0..t_14 with s > t_j, t_j = f32 midpoint of levels
 *           j and j+1 (vkt_nf4_levels; dQuantizeNF4's comparison tree); level[c] is the value.
 *         - data: byte e/2 holds element e in its HIGH nibble when e is even, LOW nibble when odd
 *           (bitsandbytes: qvals = code(x[2j]) << 4 | code(x[2j+1])); an odd count pads the last low
 *           nibble with 7 (the code of 0.0). ceil(out*in / 2) bytes.
 *         - double quantization of absmax: offset = mean(absmax) (f32; summed in double here, torch's
 *           f32 mean may differ in the last bit), v = absmax - offset (f32); blocks of 256 values;
 *           absmax2[b2] = max |v| (f32); s = v * (1.0f / absmax2); q = dQuantize<0>(code, s) over the
 *           signed dynamic map code = create_dynamic_map(signed=True) (vkt_quant_dynamic_map: bisection
 *           from index 127, then the neighbour test against the f32 midpoint).
 *           scale:   u8 qabsmax[n_blocks]
 *           absmax2: f32 absmax2[n_blocks2], n_blocks2 = ceil(n_blocks / 256)
 *           code:    f32 code[256], then f32 offset (quant_state.state2.code and quant_state.offset)
 *         - dequantization (dequantize_4bit): absmax' = code[qabsmax[b]] * absmax2[b / 256] + offset
 *           (an f32 multiply, then an f32 add), w = level[c] * absmax' (f32).
 *         Bytes per weight: 0.5 + 1/64 + 4/16384, plus 1028 bytes per matrix.
 *
 * Blob: the sections data, scale, absmax2, code in that order, each starting at a multiple of
 * VKT_QUANT_ALIGN bytes from the blob's start and zero-padded up to the next section (so word-sized reads
 * past the last element stay inside the section). Unused sections have size 0 (offset = the blob size).
 * vkt_quant_layout gives every offset and size; it depends only on (format, out, in).
 *
 * Loading a checkpoint's linear weights at load time: for each weight, l = vkt_quant_layout(fmt, out,
 * in); allocate l.bytes (host), vkt_quant_pack(w, out, in, fmt, blob), then upload (vkt_qweight_upload
 * in ops/qmatmul.h does both). Everything here is host-only, deterministic and thread-safe. */
#ifndef VKT_QUANT_H
#define VKT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vktrain/status.h"

typedef enum {
    VKT_QFORMAT_F32 = 0,
    VKT_QFORMAT_F16 = 1,
    VKT_QFORMAT_BF16 = 2,
    VKT_QFORMAT_INT8 = 3,
    VKT_QFORMAT_NF4 = 4,
    VKT_QFORMAT_COUNT = 5,
} vkt_qformat;

#define VKT_QUANT_ALIGN       256 /* section alignment in the blob (>= every minStorageBufferOffsetAlignment) */
#define VKT_NF4_BLOCK         64  /* elements per NF4 absmax block */
#define VKT_NF4_BLOCK2        256 /* absmax values per double-quantization block */
#define VKT_QUANT_CODE_FLOATS 257 /* the code section: code[256] then offset */

typedef struct {
    vkt_qformat format;
    int64_t out, in;                   /* W is (out, in) */
    int64_t n_blocks, n_blocks2;       /* NF4: absmax blocks and double-quant blocks (0 otherwise) */
    size_t data_off, data_bytes;       /* values or codes (see the header comment) */
    size_t scale_off, scale_bytes;     /* INT8: f32 scale[out]; NF4: u8 qabsmax[n_blocks] */
    size_t absmax2_off, absmax2_bytes; /* NF4: f32 absmax2[n_blocks2] */
    size_t code_off, code_bytes;       /* NF4: f32 code[256], f32 offset */
    size_t bytes;                      /* the whole blob */
} vkt_qlayout;

const char *vkt_qformat_name(vkt_qformat f); /* "f32", "f16", "bf16", "int8", "nf4" */
/* Parses a name of vkt_qformat_name; false when unknown. */
bool vkt_qformat_parse(const char *name, vkt_qformat *out);

/* The blob layout of a (out, in) weight in format f (out, in >= 1). */
vkt_qlayout vkt_quant_layout(vkt_qformat f, int64_t out, int64_t in);
/* Bytes of that blob (== vkt_quant_layout(f, out, in).bytes). */
size_t vkt_quant_bytes(vkt_qformat f, int64_t out, int64_t in);
/* Stored bytes per weight element, sections and padding included. */
double vkt_quant_bytes_per_weight(vkt_qformat f, int64_t out, int64_t in);

/* Quantizes w (out, in) f32 into blob (vkt_quant_bytes(f, out, in) bytes, written entirely: padding is
 * zero). w is borrowed. VKT_ERR_ARG (logged, naming the first bad element) when w holds a NaN or inf, or
 * for F16 a value beyond the f16 range. */
vkt_status vkt_quant_pack(const float *w, int64_t out, int64_t in, vkt_qformat f, void *blob);
/* Dequantizes a blob to w (out, in) f32, with exactly the f32 operations the kernels and bitsandbytes
 * use (see the header comment). */
void vkt_quant_unpack(const vkt_qlayout *l, const void *blob, float *w);

#endif
