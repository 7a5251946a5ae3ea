"""The controller's database layer: engine, models and migrations.

Only domain services import this package; the API layer (``controller.api``)
never does (``tools/check_layout.py`` enforces it).
"""

from controller.db import models_identity  # noqa: F401  (registers identity tables)
from controller.db.engine import Database, redact_url
from controller.db.models import Base

__all__ = ["Base", "Database", "redact_url"]
