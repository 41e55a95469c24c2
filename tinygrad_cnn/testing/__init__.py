"""The public test kit: the checks every registered op passes, and the strategies that draw cases.

Public, so you can property-test ops you register yourself::

    from hypothesis import given
    from tinygrad_cnn import testing

    @given(case=testing.strategy_for(MyOp))
    def test_my_op(case):
        testing.check_op(MyOp, case)

- checks (:mod:`~tinygrad_cnn.testing.checks`): :func:`check_vjp`, :func:`check_adjoint`,
  :func:`check_invariants`, :func:`check_skips_unneeded`, :func:`check_op`, on an
  :class:`OpCase`; and :func:`gradcheck`;
- strategies (need ``hypothesis``, the ``dev`` extra, imported on first use): the building blocks
  in :mod:`~tinygrad_cnn.testing.strategies` (``floats``, ``away_from_zero``, ``on_grid``,
  ``distinct``, ``shapes``, ...), the built-in ops' strategies and :func:`strategy_for` in
  :mod:`~tinygrad_cnn.testing.builtin`.
"""

import importlib
from typing import Any

from tinygrad_cnn.testing.checks import (
    OpCase,
    check_adjoint,
    check_double_vjp,
    check_invariants,
    check_op,
    check_refuses_create_graph,
    check_skips_unneeded,
    check_vjp,
    check_vjp_adjoint,
)
from tinygrad_cnn.testing.gradcheck import (
    GradcheckError,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)

__all__ = [
    "GradcheckError",
    "OpCase",
    "check_adjoint",
    "check_double_vjp",
    "check_invariants",
    "check_op",
    "check_refuses_create_graph",
    "check_skips_unneeded",
    "check_vjp",
    "check_vjp_adjoint",
    "gradcheck",
    "gradgradcheck",
    "numerical_grad",
]


def __getattr__(name: str) -> Any:
    # The strategies import hypothesis, which `import tinygrad_cnn` must not need: they load
    # here, on first use of any name that is not above (testing.floats, testing.strategy_for...).
    if not name.startswith("_"):
        for module in ("strategies", "builtin"):
            module = importlib.import_module(f"tinygrad_cnn.testing.{module}")
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module 'tinygrad_cnn.testing' has no attribute {name!r}")
