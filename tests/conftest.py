"""Shared test fixtures (the acl stand-in's: tests/edge_fakes.py)."""
import pytest

pytest_plugins = ["edge_fakes"]


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small convolutions are deterministic, and faster on one thread of a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_configure(config):
    # the app's warnings (empty or likely inverted mask) fail a test that does not expect them
    # (pytest.warns, or a CLI run whose stderr the test reads)
    config.addinivalue_line("filterwarnings", "error::edge_app.errors.InpaintWarning")
    config.addinivalue_line("markers", "slow: trains, starts processes (scripts, a server, a browser) or runs the "
                                       "512 model; -m 'not slow' leaves them out, CI runs them too")
