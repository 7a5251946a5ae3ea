/* Runtime selection of the fastest XXH3-64 for this CPU.
 *
 * Debian's libxxhash is built for plain SSE2; the xxhash PyPI package dispatches
 * to AVX2/AVX-512 at run time and so runs ~40% faster on modern x86.  To match
 * it, xxh3_<isa>.c compile XXH3 once per vector extension and
 * cumulo_xxh3_64_select() picks one from CPUID (which also checks that the OS
 * saves the wider registers).  Every variant returns identical digests.
 */
#ifndef CUMULO_XXH3_DISPATCH_H
#define CUMULO_XXH3_DISPATCH_H

#include <stddef.h>

typedef unsigned long long (*cumulo_xxh3_64_fn)(const void *data, size_t length);

unsigned long long cumulo_xxh3_64_sse2(const void *data, size_t length);
unsigned long long cumulo_xxh3_64_avx2(const void *data, size_t length);
unsigned long long cumulo_xxh3_64_avx512(const void *data, size_t length);
unsigned long long cumulo_xxh3_64_portable(const void *data, size_t length);

/* The best variant for this CPU; never NULL. */
cumulo_xxh3_64_fn cumulo_xxh3_64_select(void);
/* Its name: "avx512", "avx2", "sse2" or "portable". */
const char *cumulo_xxh3_64_variant(void);

#endif
