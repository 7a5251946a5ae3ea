/* Body shared by xxh3_<isa>.c: one XXH3-64 build for the vector extension the
 * including file selected with `#pragma GCC target` and XXH_VECTOR.
 *
 * xxhash.h is compiled inline (XXH_INLINE_ALL makes every function static), so
 * each variant lives in its own translation unit with its own target flags and
 * the variants cannot clash; only CUMULO_XXH3_VARIANT_FN is exported.
 */
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>
#include "xxh3_dispatch.h"

unsigned long long CUMULO_XXH3_VARIANT_FN(const void *data, size_t length)
{
    return XXH3_64bits(data, length);
}
