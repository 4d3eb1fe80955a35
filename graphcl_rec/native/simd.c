/* What the kernels of graphcl_rec/native were compiled with. */
#include <stdint.h>

/* 512 when the AVX-512 micro-kernels were compiled in, else 0. */
int64_t native_simd(void) {
#ifdef __AVX512F__
    return 512;
#else
    return 0;
#endif
}
