"""Shared fixtures: a seeded random generator for every test that draws numbers."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240213)
