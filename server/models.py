"""Imports every model module, so that Alembic and the tests see the whole schema."""

from core import audit, oauth  # noqa: F401
from guidelines import models as guidelines_models  # noqa: F401
from planning import models as planning_models  # noqa: F401
from planning.directory import models as directory_models  # noqa: F401
from planning.feeds import models as feeds_models  # noqa: F401
from trials import models as trials_models  # noqa: F401
