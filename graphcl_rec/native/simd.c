/* What the kernels of graphcl_rec/native were compiled with. */
#include <stdint.h>

/* The vector width of the micro-kernels compiled in: 512 (AVX-512), 256 (AVX2 and
   FMA), or 0 (plain C). */
int64_t native_simd(void) {
#if defined(__AVX512F__)
    return 512;
#elif defined(__AVX2__) && defined(__FMA__)
    return 256;
#else
    return 0;
#endif
}
