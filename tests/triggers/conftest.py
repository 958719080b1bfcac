"""The fault tier's private cluster (own Redis, real worker and beat processes) for the
services-mode schedule test that races two `celery beat` processes."""

from tests.faults.conftest import cluster, pytest_runtest_makereport  # noqa: F401
