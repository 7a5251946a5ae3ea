"""Durability daemons of an object server: the replicator and the auditor.

* :mod:`~storage.replication.partition` - blocking work on one partition's files
  (suffix hashes, entry listings, tombstone reclaim, handoff removal);
* :mod:`~storage.replication.peers` - talking to other object servers, moving versions;
* :mod:`~storage.replication.ringview` - which ring devices are this server's;
* :mod:`~storage.replication.replicator` - one device's replication pass;
* :mod:`~storage.replication.auditor` - one device's audit pass, rate-limited;
* :mod:`~storage.replication.daemons` - settings, background tasks, run-now;
* :mod:`~storage.replication.server` - the ``ReplicationService`` servicer.

See docs/replication.md for the design.
"""
