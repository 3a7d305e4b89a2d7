import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


@pytest.fixture
def backend_factory():
    started = []

    def make(handler=None):
        b = harness.Backend(handler)
        started.append(b)
        return b

    yield make
    for b in started:
        b.close()


@pytest.fixture
def backend(backend_factory):
    return backend_factory()


@pytest.fixture
def rampart_factory():
    """Starts rampart processes; at teardown each must still be alive and exit 0 on SIGTERM."""
    started = []

    def make(config_yaml, **kwargs):
        r = harness.Rampart(config_yaml, **kwargs)
        started.append(r)
        return r

    yield make
    for r in started:
        alive = r.proc.poll() is None
        code = r.stop()
        if alive:
            assert code == 0, f"rampart exited {code}\n" + r.log_text()[-4000:]


@pytest.fixture
def proxy(rampart_factory, backend):
    """Rampart with one worker in front of the echo backend."""
    return rampart_factory(harness.rampart_config([backend.port]))


@pytest.fixture
def gpu_factory():
    started = []

    def make(*flags):
        b = harness.GpuBackend(*flags)
        started.append(b)
        return b

    yield make
    for b in started:
        b.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Throwaway CAs and certificates for the TLS / mTLS / gRPC tests (see harness.Pki)."""
    return harness.Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def h2_backend_factory():
    """Starts harness.H2Backend servers; closes them at teardown."""
    started = []

    def make(handler=None, **kwargs):
        b = harness.H2Backend(handler, **kwargs)
        started.append(b)
        return b

    yield make
    for b in started:
        b.close()
