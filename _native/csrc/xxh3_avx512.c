/* XXH3-64 compiled for one x86 vector extension (avx512); see xxh3_dispatch.h.
 *
 * xxhash.h is compiled inline (XXH_INLINE_ALL makes every function static), so
 * each variant lives in its own translation unit with its own target flags and
 * the variants cannot clash.  Only cumulo_xxh3_64_avx512 is exported.
 */
#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx512f")
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#define XXH_VECTOR 3
#include <xxhash.h>
#include "xxh3_dispatch.h"

unsigned long long cumulo_xxh3_64_avx512(const void *data, size_t length)
{
    return XXH3_64bits(data, length);
}
#endif
