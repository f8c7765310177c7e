"""The GPU check: the CUDA tests, then spo+, imle and the relaxation on cpu and cuda.

What it does
------------
1. Runs every test whose name mentions ``cuda`` (``pytest -k cuda`` over the
   test files that use CUDA: the optimizers' ``test_cuda_matches_cpu`` and
   friends, the estimators' ``device="cuda"`` fit, saving on cuda and loading
   on a CPU-only machine). Without a GPU they skip, and the script says so.
2. Times one training step of three methods, as ``fit`` runs it (the loss's
   ``batch_loss`` on a batch of predictions, with the true optima solved
   beforehand, then ``backward``), on ``ShortestPath(grid=(5, 5))`` (40 arcs)
   and ``ShortestPath(grid=(30, 30))`` (1740 arcs), at batch 32 and 1024, on
   cpu and cuda:

   - ``spo+``: one solve of ``2 theta_hat - theta`` per step;
   - ``imle``: two perturbed solves per step (sum-of-Gamma noise,
     ``lambd=10``, one sample);
   - ``relaxation``: the quadratic relaxation ``theta_hat @ x + gamma
     ||x||^2`` (``gamma=0.1``) over the shortest-path polytope, solved and
     differentiated by the batched projection kernel.

   Each cell is the median over repeated steps within ``--seconds`` (after
   one warm-up step; CUDA is synchronized around each step), in
   milliseconds; ``cpu/cuda`` is the speed-up. The cuda columns say ``-``
   where there is no GPU, ``> limit`` where one step (with its warm-up)
   ran past ``--cell-limit`` seconds (the relaxation on the 30x30 grid on a
   CPU: its QP over 1740 arcs did not finish one step at batch 32 in 200 s
   on a busy 2-core machine). The cpu columns use torch's threads (one per core)
   unless ``--threads`` says otherwise; on a busy machine many threads wait
   on each other (the relaxation's step at batch 32 took 5 s with 2 threads
   beside other work, 25 ms with one).

Run from the repository root (under 5 minutes on a GPU machine)::

    python benchmarks/gpu.py
    python benchmarks/gpu.py --quick --threads 1   # 5x5 only, short, no tests
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

import torch

# This checkout's skdfl, installed or not (the script runs as benchmarks/gpu.py).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from skdfl.methods._registry import make_loss  # noqa: E402
from skdfl.optimizers import ShortestPath  # noqa: E402

METHODS = ("spo+", "imle", "relaxation")
HYPERPARAMETERS = dict(gamma=0.1, lambd=10.0, noise="sog", tau=1.0, n_samples=1)


def cuda_test_files(root):
    """The test files that mention cuda (so that pytest collects only those)."""
    files = []
    for folder, _, names in os.walk(os.path.join(root, "tests")):
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.startswith("test_") and name.endswith(".py"):
                with open(path, encoding="utf-8") as handle:
                    if "cuda" in handle.read():
                        files.append(os.path.relpath(path, root))
    return sorted(files)


def run_cuda_tests(root):
    """``pytest -k cuda`` on those files; returns pytest's exit code and its summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
               "addopts=", "-k", "cuda", *cuda_test_files(root)]
    print("$", " ".join(command[1:]), flush=True)
    out = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    summary = lines[-1] if lines else out.stderr.strip()[-500:]
    if out.returncode not in (0, 5):   # 5: nothing collected
        print(out.stdout[-6000:], out.stderr[-2000:], sep="\n")
    return out.returncode, summary


def step_seconds(method, grid, batch, device, budget):
    """Median seconds of one forward and backward step of ``method``."""
    optimizer = ShortestPath(grid=grid)
    generator = torch.Generator(device=device).manual_seed(0)
    theta = torch.rand(batch, optimizer.n_params, generator=generator, device=device,
                       dtype=torch.float64) + 0.1
    x_true = optimizer._solve(theta)
    loss = make_loss(method, optimizer, generator=generator, probabilities=False,
                     solution_size=float(x_true.ne(0).sum(-1).double().mean()),
                     **HYPERPARAMETERS)
    theta_hat = (theta + 0.3 * torch.rand(theta.shape, generator=generator, device=device,
                                          dtype=theta.dtype)).requires_grad_(True)

    def step():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        theta_hat.grad = None
        loss.batch_loss(theta_hat, theta, x_true, optimizer).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    first = step()   # warm-up (kernels, caches)
    if first > budget:
        return first   # a slow step: its one run says enough
    times, spent = [], first
    while spent < budget or not times:
        times.append(step())
        spent += times[-1]
        if len(times) >= 200:
            break
    return statistics.median(times)


class CellTimeout(Exception):
    """A cell ran past ``--cell-limit``."""


def _raise_timeout(signum, frame):
    raise CellTimeout


def timed_ms(method, grid, batch, device, budget, limit):
    """Milliseconds per step, or None when the cell ran past ``limit`` seconds."""
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return 1e3 * step_seconds(method, grid, batch, device, budget)
    except CellTimeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _cell(ms):
    return f"{'> limit':>9}" if ms is None else f"{ms:9.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5x5 grid only, 0.2 s per cell, no tests (a CPU-only look)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="timing budget per cell (default 1, quick 0.2)")
    parser.add_argument("--skip-tests", action="store_true", help="only the timings")
    parser.add_argument("--cell-limit", type=float, default=30.0,
                        help="seconds after which a cell is abandoned (default 30)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N) for the cpu columns (default: torch's; "
                             "use 1 on a busy machine)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    budget = args.seconds if args.seconds is not None else (0.2 if args.quick else 1.0)
    grids = [(5, 5)] if args.quick else [(5, 5), (30, 30)]
    has_cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, cuda: "
          f"{torch.cuda.get_device_name(0) if has_cuda else 'not available'}, "
          f"cpu threads: {torch.get_num_threads()}", flush=True)
    started = time.perf_counter()

    if not (args.quick or args.skip_tests):
        code, summary = run_cuda_tests(root)
        verdict = "passed" if code == 0 else ("none collected" if code == 5 else "FAILED")
        note = "" if has_cuda else " (no GPU: the cuda tests skip)"
        print(f"cuda tests: {verdict}: {summary}{note}\n", flush=True)

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if has_cuda else [])
    print(f"{'method':<11} {'grid':>6} {'batch':>6} {'cpu ms':>9} {'cuda ms':>9} "
          f"{'cpu/cuda':>9}")
    for grid in grids:
        for batch in (32, 1024):
            for method in METHODS:
                ms = {d.type: timed_ms(method, grid, batch, d, budget, args.cell_limit)
                      for d in devices}
                cuda = _cell(ms["cuda"]) if "cuda" in ms else f"{'-':>9}"
                ratio = f"{'-':>9}"
                if ms.get("cuda") and ms["cpu"] is not None:
                    ratio = f"{ms['cpu'] / ms['cuda']:9.1f}"
                print(f"{method:<11} {'x'.join(map(str, grid)):>6} {batch:>6} "
                      f"{_cell(ms['cpu'])} {cuda} {ratio}", flush=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s"
          + ("" if has_cuda else "; not run on a GPU: the cuda columns are empty"))


if __name__ == "__main__":
    main()
