/* XXH3-64 built for sse2 (see xxh3_dispatch.h and xxh3_variant.h). */
#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("sse2")
#define XXH_VECTOR 1
#define CUMULO_XXH3_VARIANT_FN cumulo_xxh3_64_sse2
#include "xxh3_variant.h"
#endif
