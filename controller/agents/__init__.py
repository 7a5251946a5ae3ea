"""The agent registry and the controller side of the controller-agent stream.

* :mod:`controller.agents.registry` - node records in the database: enrollment
  credentials (hashes only), liveness, desired state and its revisions.
* :mod:`controller.agents.stream` - :class:`AgentHub`, which serves every
  ``AgentService.Connect`` stream of this controller, fans desired state out and
  batches heartbeat writes.
* :mod:`controller.agents.liveness` - marks silent nodes down.
* :mod:`controller.agents.service` - :class:`NodeService`, the admin operations
  behind ``cumulo.node.v1.NodeService``.
"""
