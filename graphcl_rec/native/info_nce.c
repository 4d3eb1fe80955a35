/*
 * All-candidate InfoNCE sums, for graphcl_rec/native/nce.py.
 *
 * Anchors a[b] (already divided by the temperature) meet every candidate c[j];
 * with p[b, j] = exp(a_b . c_j) (logits bounded, so no shift is needed):
 *
 *   nce_norm:  norm[b] += sum_j p[b, j]
 *   nce_grads: P[b, j] = coef[b] p[b, j];  sa[b] += sum_j P[b, j] c_j;
 *              gc[j] = sum_b P[b, j] a_b
 *
 * With coef = w / norm these are the softmax terms of both gradients. Each call
 * covers the candidate slabs [g0, g1) (64 candidates each: slabs[g, e, j] =
 * c[64 g + j, e], crows = c as rows, zero rows padding the last slab, whose real
 * columns last_mask marks with 1), so threads split the candidates: norm and sa are
 * partial sums per thread, gc rows belong to one thread. The logits are made 4
 * anchors x 64 candidates at a time in registers and never stored; P lives one slab
 * at a time in pbuf ([B, 64]). The products cost four [B, d] x [d, M] products: the
 * logits are made twice (once per call), since the normalisation must be known
 * before the candidates' gradient is summed.
 *
 * B must be a multiple of 4 (pad anchors with zero rows and coef 0). The AVX-512
 * micro-kernels need d % 64 == 0; other d, and builds without AVX-512, take plain C
 * loops with expf.
 */
#include <math.h>
#include <stdint.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define S 64 /* candidates per slab */
#define RA 4 /* anchors per register tile */

static float mask_at(const float *last_mask, int64_t g, int64_t groups, int64_t j) {
    return g == groups - 1 ? last_mask[j] : 1.0f;
}

static float logit(const float *a, const float *slab, int64_t d, int64_t j) {
    float acc = 0.0f;
    for (int64_t e = 0; e < d; e++) acc += a[e] * slab[e * S + j];
    return acc;
}

static void norm_plain(const float *a, int64_t B, const float *slabs, int64_t g0,
                       int64_t g1, int64_t groups, const float *last_mask, int64_t d,
                       float *norm) {
    for (int64_t b = 0; b < B; b++) {
        float acc = 0.0f;
        for (int64_t g = g0; g < g1; g++)
            for (int64_t j = 0; j < S; j++)
                acc += mask_at(last_mask, g, groups, j) *
                       expf(logit(a + b * d, slabs + g * d * S, d, j));
        norm[b] += acc;
    }
}

static void grads_plain(const float *a, int64_t B, const float *slabs,
                        const float *crows, int64_t g0, int64_t g1, int64_t groups,
                        const float *last_mask, int64_t d, const float *coef,
                        float *pbuf, float *sa, float *gc) {
    for (int64_t g = g0; g < g1; g++) {
        const float *slab = slabs + g * d * S, *cr = crows + g * S * d;
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < S; j++)
                pbuf[b * S + j] = coef[b] * mask_at(last_mask, g, groups, j) *
                                  expf(logit(a + b * d, slab, d, j));
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < S; j++)
                for (int64_t e = 0; e < d; e++) sa[b * d + e] += pbuf[b * S + j] * cr[j * d + e];
        for (int64_t j = 0; j < S; j++)
            for (int64_t e = 0; e < d; e++) {
                float acc = 0.0f;
                for (int64_t b = 0; b < B; b++) acc += pbuf[b * S + j] * a[b * d + e];
                gc[(g * S + j) * d + e] = acc;
            }
    }
}

#ifdef __AVX512F__
/* exp(x) for |x| <= 88: x = n ln2 + r, |r| <= ln2 / 2, a degree-7 polynomial for
   e^r (the Cephes expf coefficients), times 2^n by scalef; about 1 ulp. */
static inline __m512 exp512(__m512 x) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* exp of the logits of RA anchors (rows a, stride d) against one slab, masked. */
static inline void tile_exp(const float *a, int64_t d, const float *slab,
                            const float *mask, __m512 out[RA][4]) {
    __m512 c[RA][4];
    int r, j;
    for (r = 0; r < RA; r++)
        for (j = 0; j < 4; j++) c[r][j] = _mm512_setzero_ps();
    for (int64_t e = 0; e < d; e++) {
        __m512 b0 = _mm512_loadu_ps(slab + e * S), b1 = _mm512_loadu_ps(slab + e * S + 16);
        __m512 b2 = _mm512_loadu_ps(slab + e * S + 32), b3 = _mm512_loadu_ps(slab + e * S + 48);
        for (r = 0; r < RA; r++) {
            __m512 av = _mm512_set1_ps(a[r * d + e]);
            c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(av, b2, c[r][2]);
            c[r][3] = _mm512_fmadd_ps(av, b3, c[r][3]);
        }
    }
    for (r = 0; r < RA; r++)
        for (j = 0; j < 4; j++) {
            out[r][j] = exp512(c[r][j]);
            if (mask) out[r][j] = _mm512_mul_ps(out[r][j], _mm512_loadu_ps(mask + 16 * j));
        }
}
#endif

void nce_norm(const float *a, int64_t B, const float *slabs, int64_t g0, int64_t g1,
              int64_t groups, const float *last_mask, int64_t d, float *norm) {
#ifdef __AVX512F__
    if (d % 64 == 0) {
        for (int64_t b0 = 0; b0 < B; b0 += RA) {
            __m512 acc[RA], e[RA][4];
            int r;
            for (r = 0; r < RA; r++) acc[r] = _mm512_setzero_ps();
            for (int64_t g = g0; g < g1; g++) {
                tile_exp(a + b0 * d, d, slabs + g * d * S,
                         g == groups - 1 ? last_mask : 0, e);
                for (r = 0; r < RA; r++)
                    acc[r] = _mm512_add_ps(acc[r], _mm512_add_ps(
                        _mm512_add_ps(e[r][0], e[r][1]), _mm512_add_ps(e[r][2], e[r][3])));
            }
            for (r = 0; r < RA; r++) norm[b0 + r] += _mm512_reduce_add_ps(acc[r]);
        }
        return;
    }
#endif
    norm_plain(a, B, slabs, g0, g1, groups, last_mask, d, norm);
}

void nce_grads(const float *a, int64_t B, const float *slabs, const float *crows,
               int64_t g0, int64_t g1, int64_t groups, const float *last_mask,
               int64_t d, const float *coef, float *pbuf, float *sa, float *gc) {
#ifdef __AVX512F__
    if (d % 64 == 0) {
        for (int64_t g = g0; g < g1; g++) {
            const float *slab = slabs + g * d * S, *cr = crows + g * S * d;
            const float *mask = g == groups - 1 ? last_mask : 0;
            int64_t b0, e0, jj, j0, bb;
            int r, j;
            /* P = coef * exp(logits), one slab */
            for (b0 = 0; b0 < B; b0 += RA) {
                __m512 e[RA][4];
                tile_exp(a + b0 * d, d, slab, mask, e);
                for (r = 0; r < RA; r++) {
                    __m512 k = _mm512_set1_ps(coef[b0 + r]);
                    for (j = 0; j < 4; j++)
                        _mm512_storeu_ps(pbuf + (b0 + r) * S + 16 * j, _mm512_mul_ps(e[r][j], k));
                }
            }
            for (e0 = 0; e0 < d; e0 += 64) {
                /* sa[b, e0:e0+64] += sum_j P[b, j] c_j[e0:e0+64]: RA anchors at a time */
                for (b0 = 0; b0 < B; b0 += RA) {
                    __m512 acc[RA][4];
                    for (r = 0; r < RA; r++)
                        for (j = 0; j < 4; j++)
                            acc[r][j] = _mm512_loadu_ps(sa + (b0 + r) * d + e0 + 16 * j);
                    for (jj = 0; jj < S; jj++) {
                        const float *row = cr + jj * d + e0;
                        __m512 r0 = _mm512_loadu_ps(row), r1 = _mm512_loadu_ps(row + 16);
                        __m512 r2 = _mm512_loadu_ps(row + 32), r3 = _mm512_loadu_ps(row + 48);
                        for (r = 0; r < RA; r++) {
                            __m512 pv = _mm512_set1_ps(pbuf[(b0 + r) * S + jj]);
                            acc[r][0] = _mm512_fmadd_ps(pv, r0, acc[r][0]);
                            acc[r][1] = _mm512_fmadd_ps(pv, r1, acc[r][1]);
                            acc[r][2] = _mm512_fmadd_ps(pv, r2, acc[r][2]);
                            acc[r][3] = _mm512_fmadd_ps(pv, r3, acc[r][3]);
                        }
                    }
                    for (r = 0; r < RA; r++)
                        for (j = 0; j < 4; j++)
                            _mm512_storeu_ps(sa + (b0 + r) * d + e0 + 16 * j, acc[r][j]);
                }
                /* gc[j, e0:e0+64] = sum_b P[b, j] a_b[e0:e0+64]: 4 candidates at a time */
                for (j0 = 0; j0 < S; j0 += 4) {
                    __m512 acc[4][4];
                    for (r = 0; r < 4; r++)
                        for (j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();
                    for (bb = 0; bb < B; bb++) {
                        const float *ar = a + bb * d + e0;
                        __m512 a0 = _mm512_loadu_ps(ar), a1 = _mm512_loadu_ps(ar + 16);
                        __m512 a2 = _mm512_loadu_ps(ar + 32), a3 = _mm512_loadu_ps(ar + 48);
                        for (r = 0; r < 4; r++) {
                            __m512 pv = _mm512_set1_ps(pbuf[bb * S + j0 + r]);
                            acc[r][0] = _mm512_fmadd_ps(pv, a0, acc[r][0]);
                            acc[r][1] = _mm512_fmadd_ps(pv, a1, acc[r][1]);
                            acc[r][2] = _mm512_fmadd_ps(pv, a2, acc[r][2]);
                            acc[r][3] = _mm512_fmadd_ps(pv, a3, acc[r][3]);
                        }
                    }
                    for (r = 0; r < 4; r++)
                        for (j = 0; j < 4; j++)
                            _mm512_storeu_ps(gc + (g * S + j0 + r) * d + e0 + 16 * j, acc[r][j]);
                }
            }
        }
        return;
    }
#endif
    grads_plain(a, B, slabs, crows, g0, g1, groups, last_mask, d, coef, pbuf, sa, gc);
}
