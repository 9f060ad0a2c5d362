"""What integration tests share beyond tests/conftest.py."""

from collections.abc import AsyncIterator

import pytest

from tests.helpers.bad_input import waiting_at_every_stage
from tests.helpers.programs import Handle


@pytest.fixture(scope="package")
async def stages(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Handle]]:
    """Workflows waiting at every stage, by stage, on a dev server of their own: the tests of refused answers and
    actions (test_bad_*.py) share them, as nothing there moves by time; built once per test process."""
    async with waiting_at_every_stage(tmp_path_factory.mktemp("bad-input")) as handles:
        yield handles
