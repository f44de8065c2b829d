"""pytest turns warnings into errors (pyproject's filterwarnings): a warning our code starts to
emit, or a resource a test forgets to close, fails the suite instead of scrolling past."""

from __future__ import annotations

import warnings

import pytest


def test_a_warning_is_an_error() -> None:
    with pytest.raises(UserWarning, match="seen"):
        warnings.warn("seen", UserWarning, stacklevel=1)


def test_a_deprecation_is_an_error() -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn("old", DeprecationWarning, stacklevel=1)
