"""Suite-wide settings: hypothesis profiles (`ci` by default, `deep` with OPGATE_HYPOTHESIS=deep)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("OPGATE_HYPOTHESIS", "ci"))
