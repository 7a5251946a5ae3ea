"""The object proxy: the public ``cumulo.object.v1`` API in front of the storage nodes.

* :mod:`storage.proxy.placement` - NodeIter (primaries, then handoffs) and the connection pool;
* :mod:`storage.proxy.replicas` - quorum writes and newest-wins reads of object replicas;
* :mod:`storage.proxy.index` - the client of the nodes' listing index shards;
* :mod:`storage.proxy.listing` - listing pages (prefix, delimiter, marker, limit);
* :mod:`storage.proxy.containers` - container records and statistics;
* :mod:`storage.proxy.auth` - the token interceptor and the proxy's policy table;
* :mod:`storage.proxy.server` - the servicer;
* :mod:`storage.proxy.main` - the ``cumulo-object-proxy`` process.
"""
