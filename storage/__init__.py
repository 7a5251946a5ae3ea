"""The object store: ring builder and reader, object servers, proxy, replicator, auditor.

Usable on its own: ``storage`` imports neither ``controller`` nor ``agent``.  Hot
paths come from the ``_native`` facade only.
"""
