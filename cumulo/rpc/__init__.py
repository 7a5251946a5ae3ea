"""gRPC plumbing shared by every Cumulo server and the SDK.

* :mod:`cumulo.rpc.status` - the one table from domain errors to status codes.
* :mod:`cumulo.rpc.interceptors` - request ids, logging, malformed-message and error mapping.
* :mod:`cumulo.rpc.server` - building a grpc.aio server with health and reflection.
* :mod:`cumulo.rpc.paging` - page tokens.
"""
