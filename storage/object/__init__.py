"""Object servers: the on-disk object store of each device and the gRPC process serving it.

* :mod:`storage.object.store` - the device interface and shared types;
* :mod:`storage.object.diskfile` - the real store, files on a device directory;
* :mod:`storage.object.memory` - its in-memory twin;
* :mod:`storage.object.server` - the ``cumulo.objectserver.v1`` servicer;
* :mod:`storage.object.main` - the ``cumulo-object-server`` process.
"""
