"""Fan work out on Dask: a LocalCluster by default, or an existing scheduler's address.

Work items are plain functions of the stage packages whose outputs are atomic files, so a
killed worker costs only its task: Dask re-runs it elsewhere.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

_clients: dict[str, Client] = {}


def _client(scheduler: str, local_workers: int) -> Client:
    key = scheduler or f"local:{local_workers}"
    client = _clients.get(key)
    if client is not None and client.status == "running":
        return client
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        # One thread per worker, for BLAS (Dask's default) and llvmpipe alike.
        cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40,
                               env={"LP_NUM_THREADS": "1"})
        client = Client(cluster)
    print(f"[dask] {key}: dashboard {client.dashboard_link}", file=sys.stderr, flush=True)
    _clients[key] = client
    return client


@contextlib.contextmanager
def dask_client(scheduler: str, local_workers: int) -> Iterator[Client]:
    """A connected client (kept for the rest of the process, so tasks share the cluster)."""
    yield _client(scheduler, local_workers)


def map_with_progress(client: Client, function: Callable[..., Any], items: Iterable[Any],
                      description: str, resources: dict[str, float] | None = None,
                      **kwargs: Any) -> list[Any]:
    """Run ``function(item, **kwargs)`` for every item on the cluster, results in input order.

    A tqdm bar counts finished items. Tasks are retried up to twice (a killed worker).
    ``resources`` (e.g. ``{"GPU": 1}``): only workers that declare them run the tasks.
    """
    items = list(items)
    futures = [client.submit(function, item, **kwargs, pure=False, retries=2,
                             resources=resources, key=f"{description}-{i}-{id(items)}")
               for i, item in enumerate(items)]
    index = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(items)
    with tqdm(total=len(items), desc=description, unit="task", file=sys.stderr) as bar:
        for future in as_completed(futures):
            results[index[future.key]] = future.result()
            bar.update(1)
    return results
