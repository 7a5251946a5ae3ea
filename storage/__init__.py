"""Cumulo's object store: ring, object servers, proxy, replicator and auditor.

Imports neither ``controller`` nor ``agent``: the object store stands alone.
"""
