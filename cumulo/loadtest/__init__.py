"""Object-store load tests: the model, the runner and the backends behind ``cumulo bench objects``.

* :mod:`~cumulo.loadtest.sizes`: ``4KiB``-style sizes and size distributions;
* :mod:`~cumulo.loadtest.workload`: operations, mixes, phases, the key space;
* :mod:`~cumulo.loadtest.stats`: exact latency percentiles, ops/s, MB/s, errors by kind;
* :mod:`~cumulo.loadtest.backend`: the :class:`ObjectBackend` interface a runner drives;
* :mod:`~cumulo.loadtest.runner`: the asyncio runner and its JSON result;
* :mod:`~cumulo.loadtest.grpc_backend`: the backend speaking ``cumulo.object.v1``.

Part of the SDK: it imports no server package, so any client machine can load any
Cumulo endpoint.  docs/loadtest.md has the commands and the JSON schema.
"""
