import os

import pytest

# Plotly, numpy and the notebooks' kernels share 2 cores with pytest; keep BLAS single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def xdist_group_of(item: pytest.Item) -> str:
    """The pytest-xdist group of a test under ``--dist loadgroup`` (``make test``): a module's tests
    share a worker, so its module-scoped fixtures (a GPAW single point, a trained model) are computed
    once; each chapter's notebook test is a group of its own, so the chapters spread over the workers."""
    return item.nodeid if item.get_closest_marker("notebook") else item.path.name


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group_of(item)))
