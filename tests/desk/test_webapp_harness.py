"""The desk test harness reports a desk that cannot start at once, with the reason."""

import socket

import pytest

from tests.desk.webapp import RunningDesk


def test_a_desk_that_cannot_bind_its_port_fails_with_the_reason(service):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        desk = RunningDesk(service)
        desk.port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="did not start"):
            with desk:
                pass
    finally:
        taken.close()
