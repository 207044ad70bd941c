"""Test-suite hooks: a test that needs data which is not fetched is skipped, with the reason.

Tests that read fetched data (``ibn data fetch NAME``) raise :class:`ibn.data.MissingDataError`
when it is absent; under a bare ``pytest`` that turns into a skip naming the missing source.
``scripts/test`` fetches the data first and sets ``IBN_REQUIRE_DATA=1``: there a missing file is
a failure, so a skip cannot hide a broken fetch.
"""

from __future__ import annotations

import os

import pytest

from ibn.data import MissingDataError

REQUIRE_DATA = os.environ.get("IBN_REQUIRE_DATA", "") not in ("", "0")


def _skip_missing():
    try:
        return (yield)
    except MissingDataError as err:
        if REQUIRE_DATA:
            raise
        reason = str(err).splitlines()[0] if str(err) else "data not fetched"
        pytest.skip(f"data not fetched: {reason}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _skip_missing())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _skip_missing())
