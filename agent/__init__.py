"""Cumulo's per-node agent: one long-lived stream to a controller, desired state applied locally.

* :mod:`agent.main` - the ``cumulo-agent`` process (``python -m agent``).
* :mod:`agent.stream` - connect, register, heartbeat, resume; jittered exponential backoff.
* :mod:`agent.reconciler` - applies desired state through drivers; persists the
  last applied revision so a restart resumes from it.
* :mod:`agent.inventory` - what the host offers (CPU, memory, disk, KVM, libvirt).
* :mod:`agent.drivers` - the plug-in point for compute, network, image and volume drivers.

The agent never imports ``controller``: it reaches the controller only over
``cumulo.agent.v1.AgentService``.
"""
