"""Benchmark the per-chunk xxh3 checksum: compiled vs pure vs the physical limits.

Over one 256 MiB buffer, in the same run, it measures (best of ``--repeat``):

* ``memcpy``: copying the buffer (the memory-bandwidth limit),
* ``xxhash_oneshot``: the ``xxhash`` package's xxh3_64 over the whole buffer,
* ``compiled`` / ``pure``: ``chunk_digests`` at 1 MiB and 4 MiB chunks, one thread,
* ``compiled_2_threads``: two threads each hashing half the buffer's chunks
  (only faster than one thread if the GIL is released in the loop).

Prints one JSON object with MB/s (10^6 bytes per second) and the targets from
the foundation issue: compiled >= 90% of xxhash's one-shot throughput on one
thread, and >= 1.6x with two threads.  Run: ``make bench-checksum``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from functools import partial

import xxhash

MIB = 1024 * 1024


def best_seconds(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def two_threads(hash_chunks: Callable[[memoryview, int], object], data: bytes, chunk: int) -> None:
    view = memoryview(data)
    half = (len(view) // chunk // 2) * chunk
    threads = [
        threading.Thread(target=hash_chunks, args=(view[:half], chunk)),
        threading.Thread(target=hash_chunks, args=(view[half:], chunk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pure-repeat", type=int, default=2)
    options = parser.parse_args()

    os.environ.pop("CUMULO_NO_EXTENSIONS", None)
    import _native
    from _native import checksum_py

    if _native.BACKEND != "cython":
        print(json.dumps({"error": f"compiled extension not loaded: {_native.FALLBACKS}"}))
        return 1
    from _native import _checksum

    size = options.size_mib * MIB
    data = os.urandom(size)
    target = bytearray(size)

    def rate(seconds: float) -> float:
        return round(size / seconds / 1e6, 1)

    results: dict[str, object] = {
        "buffer_mib": options.size_mib,
        "repeat": options.repeat,
        "backend": _native.BACKEND,
        "cpu_count": os.cpu_count(),
        "xxh3_variant": _checksum.XXH3_VARIANT,
    }
    target_view = memoryview(target)
    memcpy = rate(best_seconds(lambda: target_view.__setitem__(slice(None), data), options.repeat))
    oneshot = rate(best_seconds(lambda: xxhash.xxh3_64_intdigest(data), options.repeat))
    results["memcpy_mb_s"] = memcpy
    results["xxhash_oneshot_mb_s"] = oneshot
    for chunk_mib in (1, 4):
        chunk = chunk_mib * MIB
        compiled = rate(best_seconds(partial(_checksum.chunk_digests, data, chunk), options.repeat))
        pure = rate(
            best_seconds(partial(checksum_py.chunk_digests, data, chunk), options.pure_repeat)
        )
        threaded = rate(
            best_seconds(partial(two_threads, _checksum.chunk_digests, data, chunk), options.repeat)
        )
        pure_threaded = rate(
            best_seconds(
                partial(two_threads, checksum_py.chunk_digests, data, chunk), options.pure_repeat
            )
        )
        results[f"chunk_{chunk_mib}mib"] = {
            "compiled_mb_s": compiled,
            "pure_mb_s": pure,
            "compiled_2_threads_mb_s": threaded,
            "pure_2_threads_mb_s": pure_threaded,
            "compiled_vs_xxhash_oneshot": round(compiled / oneshot, 3),
            "two_thread_speedup": round(threaded / compiled, 2),
            "compiled_vs_memcpy": round(compiled / memcpy, 2),
            "target_met": {
                "compiled_at_least_90pct_of_xxhash": compiled >= 0.9 * oneshot,
                "two_threads_at_least_1_6x": threaded >= 1.6 * compiled,
            },
        }
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
