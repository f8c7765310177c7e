import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The tests run many tiny tensor operations; torch's intra-op thread pool
    # only adds synchronization cost there (milliseconds each on a busy CPU).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
