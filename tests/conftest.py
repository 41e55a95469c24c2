"""Hypothesis profiles: `ci` (the default, bounded so the suite stays quick) and `thorough`.

Select one with TINYGRAD_CNN_PROFILE=thorough (or pytest's --hypothesis-profile).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("TINYGRAD_CNN_PROFILE", "ci"))
