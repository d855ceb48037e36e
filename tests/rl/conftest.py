import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The trainers' tests use tiny networks: one thread is fastest, and the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
