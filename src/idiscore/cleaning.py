"""Moved to :mod:`idiscore.operators.cleaning`; ``idiscore.cleaning`` is the same module."""

import sys

from idiscore.operators import cleaning as _cleaning

sys.modules[__name__] = _cleaning
