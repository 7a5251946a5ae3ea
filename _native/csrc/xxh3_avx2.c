/* XXH3-64 built for avx2 (see xxh3_dispatch.h and xxh3_variant.h). */
#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx2")
#define XXH_VECTOR 2
#define CUMULO_XXH3_VARIANT_FN cumulo_xxh3_64_avx2
#include "xxh3_variant.h"
#endif
