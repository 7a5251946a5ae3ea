"""The controller's database layer: engine, models and migrations.

Only domain services import this package; the API layer (``controller.api``)
never does (``tools/check_layout.py`` enforces it).  Every models module is
imported here so that ``Base.metadata`` describes the whole database.
"""

from controller.db import (
    models_agents,
    models_identity,  # noqa: F401  (registers identity tables)
)
from controller.db.engine import Database, redact_url
from controller.db.models import Base

__all__ = ["Base", "Database", "models_agents", "redact_url"]
