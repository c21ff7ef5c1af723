"""Shared test fixtures."""
import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small convolutions are deterministic, and faster on one thread of a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
