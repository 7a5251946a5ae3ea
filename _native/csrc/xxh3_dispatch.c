/* Picks the XXH3-64 variant for this CPU once (see xxh3_dispatch.h). */
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>
#include "xxh3_dispatch.h"

unsigned long long cumulo_xxh3_64_portable(const void *data, size_t length)
{
    /* Whatever the compiler's default target allows (SSE2 on x86-64). */
    return XXH3_64bits(data, length);
}

cumulo_xxh3_64_fn cumulo_xxh3_64_select(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* libgcc's CPU check also verifies that the OS saves the wide registers. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return cumulo_xxh3_64_avx512;
    if (__builtin_cpu_supports("avx2"))
        return cumulo_xxh3_64_avx2;
    if (__builtin_cpu_supports("sse2"))
        return cumulo_xxh3_64_sse2;
#endif
    return cumulo_xxh3_64_portable;
}

const char *cumulo_xxh3_64_variant(void)
{
    cumulo_xxh3_64_fn chosen = cumulo_xxh3_64_select();
#if defined(__x86_64__) || defined(__i386__)
    if (chosen == cumulo_xxh3_64_avx512)
        return "avx512";
    if (chosen == cumulo_xxh3_64_avx2)
        return "avx2";
    if (chosen == cumulo_xxh3_64_sse2)
        return "sse2";
#endif
    return "portable";
}
