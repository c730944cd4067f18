"""The provider double and the bundle of tests/e2e, for the reliability tests that place real
calls. Both are module-scoped: every module that uses them gets its own."""

from tests.e2e.conftest import _fresh_double, bundle, double  # noqa: F401
