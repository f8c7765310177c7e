import os

import pytest
import torch
from hypothesis import settings

# The suite draws the same hypothesis examples on every run, so that CI's
# verdict does not depend on the draw (a rare degenerate example found at
# random once failed an unrelated run). To explore new examples, run with
# HYPOTHESIS_PROFILE=explore.
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The tests run many tiny tensor operations; torch's intra-op thread pool
    # only adds synchronization cost there (milliseconds each on a busy CPU).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
