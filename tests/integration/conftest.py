"""A real three-site stack per module."""

import pytest

from tests.servers import running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
