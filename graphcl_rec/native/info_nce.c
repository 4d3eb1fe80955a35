/*
 * All-candidate InfoNCE sums, for graphcl_rec/native/nce.py.
 *
 * Anchors a[b] (already divided by the temperature) meet every candidate c[j];
 * with p[b, j] = exp(a_b . c_j) (logits bounded, so no shift is needed), weights
 * w[b] (1 without weights) and norm[b] = sum_j p[b, j], nce_fused forms
 *
 *   norm[b],   sa[b] = (w_b / norm_b) sum_j p[b, j] c_j,
 *   gc[j]    += sum_b (w_b / norm_b) p[b, j] a_b,
 *
 * the softmax parts of both gradients. The candidates come twice: as slabs of 64
 * (slabs[g, e, j] = c[64 g + j, e]) for the logits and as rows (crows) for sa, with
 * zero rows padding the last slab, whose real columns last_mask marks with 1.
 *
 * Anchors go in tiles of A rows: the tile's p (A x W floats, W = 64 groups) is made
 * 4 anchors x 64 candidates at a time in registers and written to pbuf once, then
 * read back slab by slab for sa (the tile's sa rows and one slab of crows stay in
 * L1) and gc (one slab of gc rows, loaded, updated from all A anchors, stored). So
 * the work is three [B, d] x [d, M] products plus one exp per logit, and gc moves
 * through memory once per tile: larger tiles move it less often, while pbuf must
 * stay in cache (nce.py sizes it). Threads take disjoint anchor ranges, each with
 * its own gc (summed by the caller).
 *
 * The row counts must be multiples of 4 (pad anchors with zero rows of weight 0).
 * The AVX-512 micro-kernels need d % 64 == 0, the AVX2 + FMA ones (4 rows x 16
 * columns in registers, for hosts without AVX-512) d % 16 == 0; other d, and builds
 * without either, take plain C loops with expf.
 */
#include <math.h>
#include <stdint.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define S 64 /* candidates per slab */
#define RA 4 /* anchors per register tile */

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
/* For a tile of rows from t0: ascaled[r] = (w / norm) a[t0 + r], sa rows zeroed. */
static void tile_prepare(const float *a, int64_t t0, int64_t rows, int64_t d,
                         const float *weight, const float *norm, float *ascaled,
                         float *sa) {
    for (int64_t r = 0; r < rows; r++) {
        float k = (weight ? weight[t0 + r] : 1.0f) / norm[t0 + r];
        for (int64_t e = 0; e < d; e++) {
            ascaled[r * d + e] = k * a[(t0 + r) * d + e];
            sa[(t0 + r) * d + e] = 0.0f;
        }
    }
}

/* For a tile of rows from t0: sa rows scaled by w / norm. */
static void tile_scale(int64_t t0, int64_t rows, int64_t d, const float *weight,
                       const float *norm, float *sa) {
    for (int64_t r = 0; r < rows; r++) {
        float k = (weight ? weight[t0 + r] : 1.0f) / norm[t0 + r];
        for (int64_t e = 0; e < d; e++) sa[(t0 + r) * d + e] *= k;
    }
}
#endif

static float mask_at(const float *last_mask, int64_t g, int64_t groups, int64_t j) {
    return g == groups - 1 ? last_mask[j] : 1.0f;
}

static void fused_plain(const float *a, int64_t b0, int64_t b1, const float *slabs,
                        const float *crows, int64_t groups, const float *last_mask,
                        int64_t d, const float *weight, int64_t A, float *pbuf,
                        float *norm, float *sa, float *gc) {
    int64_t W = groups * S;
    for (int64_t t0 = b0; t0 < b1; t0 += A) {
        int64_t rows = b1 - t0 < A ? b1 - t0 : A;
        for (int64_t r = 0; r < rows; r++) {
            const float *ar = a + (t0 + r) * d;
            float total = 0.0f, k;
            for (int64_t j = 0; j < W; j++) {
                const float *slab = slabs + (j / S) * d * S;
                float acc = 0.0f, p;
                for (int64_t e = 0; e < d; e++) acc += ar[e] * slab[e * S + j % S];
                p = mask_at(last_mask, j / S, groups, j % S) * expf(acc);
                if (pbuf) pbuf[r * W + j] = p;
                total += p;
            }
            norm[t0 + r] = total;
            if (!pbuf) continue;
            k = (weight ? weight[t0 + r] : 1.0f) / total;
            for (int64_t e = 0; e < d; e++) {
                float acc = 0.0f;
                for (int64_t j = 0; j < W; j++) acc += pbuf[r * W + j] * crows[j * d + e];
                sa[(t0 + r) * d + e] = k * acc;
            }
            for (int64_t j = 0; j < W; j++)
                for (int64_t e = 0; e < d; e++) gc[j * d + e] += k * pbuf[r * W + j] * ar[e];
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

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
/* exp(x) for |x| <= 87 as exp512, with 2^n built in the exponent bits. */
static inline __m256 exp256(__m256 x) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    __m256i scale = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

/* nce_fused with AVX2 + FMA: register tiles of 4 rows x 16 columns (8 registers). */
static void fused_avx2(const float *a, int64_t b0, int64_t b1, const float *slabs,
                       const float *crows, int64_t groups, const float *last_mask,
                       int64_t d, const float *weight, int64_t A, float *pbuf,
                       float *ascaled, float *norm, float *sa, float *gc) {
    int64_t W = groups * S, t0, s0, g, r, e, e0, jj, j0, j;
    int q;
    for (t0 = b0; t0 < b1; t0 += A) {
        int64_t rows = b1 - t0 < A ? b1 - t0 : A;
        for (s0 = 0; s0 < rows; s0 += RA) {
            __m256 sum[RA];
            const float *ar = a + (t0 + s0) * d;
            for (q = 0; q < RA; q++) sum[q] = _mm256_setzero_ps();
            for (g = 0; g < groups; g++) {
                const float *slab = slabs + g * d * S;
                for (j = 0; j < S; j += 16) {
                    __m256 c[RA][2], m0 = _mm256_set1_ps(1.0f), m1 = m0;
                    for (q = 0; q < RA; q++) c[q][0] = c[q][1] = _mm256_setzero_ps();
                    for (e = 0; e < d; e++) {
                        __m256 v0 = _mm256_loadu_ps(slab + e * S + j);
                        __m256 v1 = _mm256_loadu_ps(slab + e * S + j + 8);
                        for (q = 0; q < RA; q++) {
                            __m256 av = _mm256_broadcast_ss(ar + q * d + e);
                            c[q][0] = _mm256_fmadd_ps(av, v0, c[q][0]);
                            c[q][1] = _mm256_fmadd_ps(av, v1, c[q][1]);
                        }
                    }
                    if (g == groups - 1) {
                        m0 = _mm256_loadu_ps(last_mask + j);
                        m1 = _mm256_loadu_ps(last_mask + j + 8);
                    }
                    for (q = 0; q < RA; q++) {
                        __m256 x0 = _mm256_mul_ps(exp256(c[q][0]), m0);
                        __m256 x1 = _mm256_mul_ps(exp256(c[q][1]), m1);
                        if (pbuf) {
                            _mm256_storeu_ps(pbuf + (s0 + q) * W + g * S + j, x0);
                            _mm256_storeu_ps(pbuf + (s0 + q) * W + g * S + j + 8, x1);
                        }
                        sum[q] = _mm256_add_ps(sum[q], _mm256_add_ps(x0, x1));
                    }
                }
            }
            for (q = 0; q < RA; q++) {
                float lanes[8], total = 0.0f;
                _mm256_storeu_ps(lanes, sum[q]);
                for (j = 0; j < 8; j++) total += lanes[j];
                norm[t0 + s0 + q] = total;
            }
        }
        if (!pbuf) continue;
        tile_prepare(a, t0, rows, d, weight, norm, ascaled, sa);
        for (g = 0; g < groups; g++) {
            const float *cr = crows + g * S * d;
            for (e0 = 0; e0 < d; e0 += 16) {
                for (s0 = 0; s0 < rows; s0 += RA) {
                    __m256 acc[RA][2];
                    float *sr = sa + (t0 + s0) * d + e0;
                    for (q = 0; q < RA; q++) {
                        acc[q][0] = _mm256_loadu_ps(sr + q * d);
                        acc[q][1] = _mm256_loadu_ps(sr + q * d + 8);
                    }
                    for (jj = 0; jj < S; jj++) {
                        __m256 v0 = _mm256_loadu_ps(cr + jj * d + e0);
                        __m256 v1 = _mm256_loadu_ps(cr + jj * d + e0 + 8);
                        for (q = 0; q < RA; q++) {
                            __m256 pv = _mm256_broadcast_ss(pbuf + (s0 + q) * W + g * S + jj);
                            acc[q][0] = _mm256_fmadd_ps(pv, v0, acc[q][0]);
                            acc[q][1] = _mm256_fmadd_ps(pv, v1, acc[q][1]);
                        }
                    }
                    for (q = 0; q < RA; q++) {
                        _mm256_storeu_ps(sr + q * d, acc[q][0]);
                        _mm256_storeu_ps(sr + q * d + 8, acc[q][1]);
                    }
                }
                for (j0 = g * S; j0 < g * S + S; j0 += 4) {
                    __m256 acc[4][2];
                    for (q = 0; q < 4; q++) {
                        acc[q][0] = _mm256_loadu_ps(gc + (j0 + q) * d + e0);
                        acc[q][1] = _mm256_loadu_ps(gc + (j0 + q) * d + e0 + 8);
                    }
                    for (r = 0; r < rows; r++) {
                        __m256 v0 = _mm256_loadu_ps(ascaled + r * d + e0);
                        __m256 v1 = _mm256_loadu_ps(ascaled + r * d + e0 + 8);
                        for (q = 0; q < 4; q++) {
                            __m256 pv = _mm256_broadcast_ss(pbuf + r * W + j0 + q);
                            acc[q][0] = _mm256_fmadd_ps(pv, v0, acc[q][0]);
                            acc[q][1] = _mm256_fmadd_ps(pv, v1, acc[q][1]);
                        }
                    }
                    for (q = 0; q < 4; q++) {
                        _mm256_storeu_ps(gc + (j0 + q) * d + e0, acc[q][0]);
                        _mm256_storeu_ps(gc + (j0 + q) * d + e0 + 8, acc[q][1]);
                    }
                }
            }
        }
        tile_scale(t0, rows, d, weight, norm, sa);
    }
}
#endif

/*
 * Anchors [b0, b1) of a ([*, d]) against all groups * 64 candidates; pbuf holds
 * A x (groups * 64) floats and ascaled A x d (NULL pbuf: norm only, no gradients).
 * Writes norm and sa for the range; adds into gc ([groups * 64, d]).
 */
void nce_fused(const float *a, int64_t b0, int64_t b1, const float *slabs,
               const float *crows, int64_t groups, const float *last_mask, int64_t d,
               const float *weight, int64_t A, float *pbuf, float *ascaled,
               float *norm, float *sa, float *gc) {
#ifdef __AVX512F__
    if (d % 64 == 0) {
        int64_t W = groups * S, t0, s0, g, r, e0, jj, j0;
        int q, j;
        for (t0 = b0; t0 < b1; t0 += A) {
            int64_t rows = b1 - t0 < A ? b1 - t0 : A;
            /* p = exp(logits) of the tile into pbuf, and its row sums */
            for (s0 = 0; s0 < rows; s0 += RA) {
                __m512 acc[RA], ex[RA][4];
                for (q = 0; q < RA; q++) acc[q] = _mm512_setzero_ps();
                for (g = 0; g < groups; g++) {
                    tile_exp(a + (t0 + s0) * d, d, slabs + g * d * S,
                             g == groups - 1 ? last_mask : 0, ex);
                    for (q = 0; q < RA; q++) {
                        if (pbuf)
                            for (j = 0; j < 4; j++)
                                _mm512_storeu_ps(pbuf + (s0 + q) * W + g * S + 16 * j, ex[q][j]);
                        acc[q] = _mm512_add_ps(acc[q], _mm512_add_ps(
                            _mm512_add_ps(ex[q][0], ex[q][1]), _mm512_add_ps(ex[q][2], ex[q][3])));
                    }
                }
                for (q = 0; q < RA; q++) norm[t0 + s0 + q] = _mm512_reduce_add_ps(acc[q]);
            }
            if (!pbuf) continue;
            tile_prepare(a, t0, rows, d, weight, norm, ascaled, sa);
            for (g = 0; g < groups; g++) {
                const float *cr = crows + g * S * d;
                for (e0 = 0; e0 < d; e0 += 64) {
                    /* sa[r] += sum over the slab of p[r, j] c_j (scaled at the end) */
                    for (s0 = 0; s0 < rows; s0 += RA) {
                        __m512 acc[RA][4];
                        float *sr = sa + (t0 + s0) * d + e0;
                        for (q = 0; q < RA; q++)
                            for (j = 0; j < 4; j++) acc[q][j] = _mm512_loadu_ps(sr + q * d + 16 * j);
                        for (jj = 0; jj < S; jj++) {
                            const float *row = cr + jj * d + e0;
                            __m512 r0 = _mm512_loadu_ps(row), r1 = _mm512_loadu_ps(row + 16);
                            __m512 r2 = _mm512_loadu_ps(row + 32), r3 = _mm512_loadu_ps(row + 48);
                            for (q = 0; q < RA; q++) {
                                __m512 pv = _mm512_set1_ps(pbuf[(s0 + q) * W + g * S + jj]);
                                acc[q][0] = _mm512_fmadd_ps(pv, r0, acc[q][0]);
                                acc[q][1] = _mm512_fmadd_ps(pv, r1, acc[q][1]);
                                acc[q][2] = _mm512_fmadd_ps(pv, r2, acc[q][2]);
                                acc[q][3] = _mm512_fmadd_ps(pv, r3, acc[q][3]);
                            }
                        }
                        for (q = 0; q < RA; q++)
                            for (j = 0; j < 4; j++) _mm512_storeu_ps(sr + q * d + 16 * j, acc[q][j]);
                    }
                    /* gc[j] += sum_r p[r, j] ascaled_r, 4 candidates of the slab at a time */
                    for (j0 = g * S; j0 < g * S + S; j0 += 4) {
                        __m512 acc[4][4];
                        for (q = 0; q < 4; q++)
                            for (j = 0; j < 4; j++)
                                acc[q][j] = _mm512_loadu_ps(gc + (j0 + q) * d + e0 + 16 * j);
                        for (r = 0; r < rows; r++) {
                            const float *ar = ascaled + r * d + e0, *pr = pbuf + r * W + j0;
                            __m512 a0 = _mm512_loadu_ps(ar), a1 = _mm512_loadu_ps(ar + 16);
                            __m512 a2 = _mm512_loadu_ps(ar + 32), a3 = _mm512_loadu_ps(ar + 48);
                            for (q = 0; q < 4; q++) {
                                __m512 pv = _mm512_set1_ps(pr[q]);
                                acc[q][0] = _mm512_fmadd_ps(pv, a0, acc[q][0]);
                                acc[q][1] = _mm512_fmadd_ps(pv, a1, acc[q][1]);
                                acc[q][2] = _mm512_fmadd_ps(pv, a2, acc[q][2]);
                                acc[q][3] = _mm512_fmadd_ps(pv, a3, acc[q][3]);
                            }
                        }
                        for (q = 0; q < 4; q++)
                            for (j = 0; j < 4; j++)
                                _mm512_storeu_ps(gc + (j0 + q) * d + e0 + 16 * j, acc[q][j]);
                    }
                }
            }
            tile_scale(t0, rows, d, weight, norm, sa);
        }
        return;
    }
#elif defined(__AVX2__) && defined(__FMA__)
    if (d % 16 == 0) {
        fused_avx2(a, b0, b1, slabs, crows, groups, last_mask, d, weight, A, pbuf,
                   ascaled, norm, sa, gc);
        return;
    }
#endif
    (void)ascaled;
    fused_plain(a, b0, b1, slabs, crows, groups, last_mask, d, weight, A, pbuf, norm,
                sa, gc);
}
