"""HTTP/2 flow control for Cumulo's gRPC servers and storage channels: a fixed window.

gRPC core sizes each stream's receive window from its bandwidth-delay-product
probe, and on loopback or a fast LAN that estimate grows the window to hundreds of
megabytes.  The window is how much a sender may send before the receiver reads
it, so a proxy that stops reading an upload for a moment - at a segment boundary,
waiting for the replicas' syncs on a busy disk - let the client push that much
into its memory: a 300 MiB upload took the proxy process from ~90 MB to 250-270
MB of RSS while a ``dd`` loaded the disk (the issue's bound is 200 MB for a 2 GiB
object).  With the probe off and a fixed 4 MiB read-ahead per stream the same runs
stayed at 81-92 MB, and 1 MiB PUT/GET throughput did not change beyond the noise
(docs/object-store.md, "Memory of large transfers").
"""

from __future__ import annotations

#: Bytes a stream may have in flight towards a reader that is not reading.
STREAM_WINDOW_BYTES = 4 << 20

#: Channel and server options that bound every stream's buffered bytes.
BOUNDED_FLOW_CONTROL: list[tuple[str, int]] = [
    ("grpc.http2.bdp_probe", 0),
    ("grpc.http2.lookahead_bytes", STREAM_WINDOW_BYTES),
]
