"""Cumulo's controller: the public API, domain services, scheduler and agent registry.

It keeps no state outside its database, so several controllers can run against
one PostgreSQL.  ``controller.server`` is the one wiring file.
"""
