"""Which fitted estimators are CNNs, or bags of them, told apart without importing torch."""

from __future__ import annotations

from typing import Any

__all__ = ["cnn_members"]


def cnn_members(estimator: Any) -> list[Any] | None:
    """The CNNs of a bag of them (fitted ``estimators_`` with a ``module_`` each); None for
    anything else. Read by attribute, as the image package may not import the fusion one.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cnn = SimpleNamespace(module_=object())
    >>> len(cnn_members(SimpleNamespace(estimators_=[cnn, cnn])))
    2
    >>> cnn_members(cnn) is None
    True
    """
    members = getattr(estimator, "estimators_", None)
    if isinstance(members, list) and members and all(hasattr(m, "module_") for m in members):
        return members
    return None
