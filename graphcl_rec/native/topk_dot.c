/*
 * Fused full-catalogue top-K of dot-product scores, for graphcl_rec/native/topk.py.
 *
 * For each user row a[u] (length d) and every item column, the score is
 * s[u, i] = sum_e a[u, e] * v[i, e]. The items come as slabs of S = 64 columns,
 * slabs[g, e, j] = v[g * S + j, e] (zero rows pad the last slab). Scores are made
 * R users x 64 items at a time in registers and are never written to memory: each
 * 64-score tile is compared with the user's current K-th best value, and only a tile
 * holding a larger score is folded into that user's sorted list (excluded items and
 * padding columns skipped). After the first few slabs almost no tile is, so the
 * selection costs little next to the products.
 *
 * Ties keep the lower item index first. Values are the float32 sums in the order
 * e = 0 .. d-1 with fused multiply-adds; a BLAS product may round differently.
 *
 * Built on first use by graphcl_rec/native/build.py with the host's C compiler;
 * the AVX-512 micro-kernel is used where the compiler targets it, else an AVX2 + FMA
 * one (6 users x 16 items, four times per slab), else plain C.
 */
#include <math.h>
#include <stdint.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define S 64  /* items per slab */
#define R 6   /* users per register tile: 6 x 4 accumulators of 16 floats */
#define UB 96 /* users per cache block: their rows and one slab stay in L1/L2 */

/*
 * Inserts (v, col) into a list of k values sorted largest first, where
 * v > vals[k-1], after the equal values already there (they have lower item
 * indices). A linear walk from the end: a new value usually lands near it (chosen
 * over a binary search with memmove by measurement, benchmarks/PERF.md).
 */
static inline void insert(float *vals, int64_t *idx, int64_t k, float v, int64_t col) {
    int64_t j = k - 1;
    while (j > 0 && vals[j - 1] < v) {
        vals[j] = vals[j - 1];
        idx[j] = idx[j - 1];
        j--;
    }
    vals[j] = v;
    idx[j] = col;
}

/*
 * Folds one user's scores against slab g (sc[0..63]) into its list: the columns j
 * set in `cand` (scores above the list's last value when the tile was made), less
 * excluded items and padding. ex[*p .. end) are the user's excluded items,
 * ascending; *p is advanced past the items of earlier slabs (slabs are visited in
 * ascending order). No shift leaves [0, 64): an out-of-order item is skipped and a
 * slab wholly past n_items gives no candidates (topk.py refuses the one and leaves
 * out the other).
 */
static void fold(const float *sc, uint64_t cand, int64_t g, int64_t n_items,
                 int64_t k, const int64_t *ex, int64_t *p, int64_t end,
                 float *vals, int64_t *idx) {
    int64_t base = g * S, q;
    while (*p < end && ex[*p] < base) (*p)++;
    for (q = *p; q < end && ex[q] < base + S; q++)
        if (ex[q] >= base) cand &= ~((uint64_t)1 << (ex[q] - base));
    if (n_items - base < S) /* shifts stay in [0, 64): no slab starts past n_items */
        cand &= n_items > base ? ((uint64_t)1 << (n_items - base)) - 1 : 0;
    while (cand) {
        int j = __builtin_ctzll(cand);
        if (sc[j] > vals[k - 1]) insert(vals, idx, k, sc[j], base + j);
        cand &= cand - 1;
    }
}

/*
 * Top-k items of n users.
 *
 * rows:     [n, d] user rows, contiguous.
 * slabs:    [groups, d, 64] item slabs, contiguous; (groups - 1) * 64 < n_items <=
 *           groups * 64.
 * ex_ptr:   [n + 1] offsets into ex: user r's excluded items are
 *           ex[ex_ptr[r] .. ex_ptr[r + 1]), ascending.
 * out_vals: [n, k] values, largest first; -inf where nothing rankable is left.
 * out_idx:  [n, k] item indices (0 beside a -inf value).
 */
void topk_dot(const float *rows, int64_t n, const float *slabs, int64_t groups,
              int64_t n_items, int64_t d, int64_t k, const int64_t *ex_ptr,
              const int64_t *ex, float *out_vals, int64_t *out_idx) {
    int64_t ptr[UB];
    float tile[R][S];
    int64_t i, u0, g, t, r, e, j;
    for (i = 0; i < n * k; i++) {
        out_vals[i] = -INFINITY;
        out_idx[i] = 0;
    }
    for (u0 = 0; u0 < n; u0 += UB) {
        int64_t ub = n - u0 < UB ? n - u0 : UB;
        for (r = 0; r < ub; r++) ptr[r] = ex_ptr[u0 + r];
        for (g = 0; g < groups; g++) {
            const float *b = slabs + g * d * S;
            for (t = 0; t < ub; t += R) {
                int64_t rt = ub - t < R ? ub - t : R;
                const float *a = rows + (u0 + t) * d;
#ifdef __AVX512F__
                if (rt == R) {
                    __m512 c[R][4];
                    for (r = 0; r < R; r++)
                        for (j = 0; j < 4; j++) c[r][j] = _mm512_setzero_ps();
                    for (e = 0; e < d; e++) {
                        __m512 b0 = _mm512_loadu_ps(b + e * S);
                        __m512 b1 = _mm512_loadu_ps(b + e * S + 16);
                        __m512 b2 = _mm512_loadu_ps(b + e * S + 32);
                        __m512 b3 = _mm512_loadu_ps(b + e * S + 48);
                        for (r = 0; r < R; r++) {
                            __m512 av = _mm512_set1_ps(a[r * d + e]);
                            c[r][0] = _mm512_fmadd_ps(av, b0, c[r][0]);
                            c[r][1] = _mm512_fmadd_ps(av, b1, c[r][1]);
                            c[r][2] = _mm512_fmadd_ps(av, b2, c[r][2]);
                            c[r][3] = _mm512_fmadd_ps(av, b3, c[r][3]);
                        }
                    }
                    for (r = 0; r < R; r++) {
                        int64_t u = u0 + t + r;
                        __m512 th = _mm512_set1_ps(out_vals[u * k + k - 1]);
                        uint64_t m = 0;
                        for (j = 0; j < 4; j++)
                            m |= (uint64_t)_mm512_cmp_ps_mask(c[r][j], th, _CMP_GT_OQ)
                                 << (16 * j);
                        if (m) {
                            for (j = 0; j < 4; j++)
                                _mm512_storeu_ps(tile[r] + 16 * j, c[r][j]);
                            fold(tile[r], m, g, n_items, k, ex, &ptr[t + r],
                                 ex_ptr[u + 1], out_vals + u * k, out_idx + u * k);
                        }
                    }
                    continue;
                }
#elif defined(__AVX2__) && defined(__FMA__)
                if (rt == R) {
                    /* 6 users x 16 items in 12 registers, four times per slab */
                    uint64_t m[R] = {0};
                    __m256 th[R];
                    for (r = 0; r < R; r++)
                        th[r] = _mm256_set1_ps(out_vals[(u0 + t + r) * k + k - 1]);
                    for (j = 0; j < S; j += 16) {
                        __m256 c[R][2];
                        for (r = 0; r < R; r++)
                            c[r][0] = c[r][1] = _mm256_setzero_ps();
                        for (e = 0; e < d; e++) {
                            __m256 b0 = _mm256_loadu_ps(b + e * S + j);
                            __m256 b1 = _mm256_loadu_ps(b + e * S + j + 8);
                            for (r = 0; r < R; r++) {
                                __m256 av = _mm256_broadcast_ss(a + r * d + e);
                                c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
                                c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
                            }
                        }
                        for (r = 0; r < R; r++) {
                            uint64_t bits = (uint64_t)_mm256_movemask_ps(
                                _mm256_cmp_ps(c[r][0], th[r], _CMP_GT_OQ))
                                | (uint64_t)_mm256_movemask_ps(
                                _mm256_cmp_ps(c[r][1], th[r], _CMP_GT_OQ)) << 8;
                            m[r] |= bits << j;
                            _mm256_storeu_ps(tile[r] + j, c[r][0]);
                            _mm256_storeu_ps(tile[r] + j + 8, c[r][1]);
                        }
                    }
                    for (r = 0; r < R; r++)
                        if (m[r]) {
                            int64_t u = u0 + t + r;
                            fold(tile[r], m[r], g, n_items, k, ex, &ptr[t + r],
                                 ex_ptr[u + 1], out_vals + u * k, out_idx + u * k);
                        }
                    continue;
                }
#endif
                for (r = 0; r < rt; r++) {
                    int64_t u = u0 + t + r;
                    float th = out_vals[u * k + k - 1];
                    uint64_t m = 0;
                    for (j = 0; j < S; j++) tile[r][j] = 0.0f;
                    for (e = 0; e < d; e++) {
                        float av = a[r * d + e];
                        for (j = 0; j < S; j++) tile[r][j] += av * b[e * S + j];
                    }
                    for (j = 0; j < S; j++)
                        m |= (uint64_t)(tile[r][j] > th) << j;
                    fold(tile[r], m, g, n_items, k, ex, &ptr[t + r], ex_ptr[u + 1],
                         out_vals + u * k, out_idx + u * k);
                }
            }
        }
    }
}
