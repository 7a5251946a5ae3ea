"""OpenStack Swift as the object-store baseline: its all-in-one and an HTTP load backend.

Named ``swift_baseline``, not ``swift``: scripts run from ``bench/`` would otherwise
import this package instead of OpenStack's ``swift``.
"""
