"""Benchmark: NTK Gram G(X, X) of the paper's TD3 critic, three ways, and SEEM end to end.

Critic: MLP with 2 hidden layers of 256 ReLU units (SPEC Ambiguity 13), input d ∈ {14, 23}
(Hopper 11+3, Walker2d/HalfCheetah 17+6). For each N, in one run, on one machine:

- ``loop``: the authors' method, one backward per sample, stack Z, then Z^T Z;
- ``func``: ``torch.func`` (vmap of per-sample jacrev), then Z^T Z;
- ``closed``: seemlab's closed form (Hadamard products of per-layer Grams).

Baselines get enough memory to build Z once (no chunk recomputation). Ratios are of medians
measured in this run. SEEM end to end = ``seemlab.seem.seem`` (two Grams plus Krylov eigs).

    python benchmarks/ntk_seem.py --threads 2 1 --out benchmarks/results/ntk_seem_cpu.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from seemlab.nets import MLP, n_params
from seemlab.ntk import gram
from seemlab.seem import seem

BIG = 2**31  # baselines: never chunk


def timed(fn, reps: int, warmup: bool = True) -> tuple[float, float, object]:
    """Medians of wall time and of process CPU time over ``reps`` calls, and the last result.

    CPU time (all threads of this process) is reported next to wall time because the benchmark
    machine is shared: other processes stretch wall time but not the work this process does.
    """
    out = fn() if warmup else None
    walls, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def bench_gram(d: int, n: int, args, device, dtype) -> dict:
    """Median seconds of each method on one (d, N) case, plus the max relative disagreement."""
    model = MLP(d, depth=2, width=256, seed=0, dtype=dtype).to(device)
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(n), dtype=dtype).to(device)
    reps = args.reps if n <= 1024 else args.reps_large
    t_closed, c_closed, G = timed(lambda: gram(model, X, method="closed"), args.reps_ours)
    t_func, c_func, G_func = timed(lambda: gram(model, X, method="func", max_elems=BIG), reps, warmup=n <= 1024)
    t_loop, c_loop, G_loop = timed(lambda: gram(model, X, method="loop", max_elems=BIG), reps, warmup=False)
    err = max(((G - H).norm() / H.norm()).item() for H in (G_func, G_loop))
    return dict(d=d, n=n, P=n_params(model), closed=t_closed, func=t_func, loop=t_loop,
                c_closed=c_closed, c_func=c_func, c_loop=c_loop, err=err)


def bench_seem(d: int, n: int, args, device, dtype) -> float:
    model = MLP(d, depth=2, width=256, seed=0, dtype=dtype).to(device)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(n, d, generator=gen, dtype=dtype).to(device)
    X_star = X + 0.1 * torch.randn(n, d, generator=gen, dtype=dtype).to(device)
    t, c, r = timed(lambda: seem(model, X, X_star, 0.99), args.reps_ours)
    return t, c, r


def table(rows: list[dict], seem_rows: list, device, dtype, load: str) -> str:
    head = [
        f"NTK Gram G(X, X) of the TD3 critic (2×256 ReLU), {dtype}, device {device}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; load average at the start: {load}.",
        "Medians in seconds, wall clock (CPU time of this process in brackets); ratios are baseline / closed form, "
        "measured in the same run, wall (CPU).",
        "",
        "| d | N | P | per-sample loop (s) | torch.func (s) | closed form (s) | loop / closed | func / closed | max rel. diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head.append(
            f"| {r['d']} | {r['n']} | {r['P']} | {r['loop']:.3f} ({r['c_loop']:.3f}) | {r['func']:.3f} ({r['c_func']:.3f}) "
            f"| {r['closed']:.4f} ({r['c_closed']:.4f}) | {r['loop'] / r['closed']:.0f}× ({r['c_loop'] / r['c_closed']:.0f}×) "
            f"| {r['func'] / r['closed']:.0f}× ({r['c_func'] / r['c_closed']:.0f}×) | {r['err']:.1e} |"
        )
    head += ["", "SEEM end to end (`seemlab.seem.seem`: G(X*, X), G(X, X), then Krylov `eigs`), γ = 0.99:", ""]
    head += ["| d | N | wall (s) | CPU (s) | solver | normalized SEEM |", "|---|---|---|---|---|---|"]
    for d, n, t, c, r in seem_rows:
        head.append(f"| {d} | {n} | {t:.3f} | {c:.3f} | {r.method} | {r.normalized:.4f} |")
    return "\n".join(head) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda only if available)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, nargs="+", default=[2], help="torch CPU threads; one table per value")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2560])
    p.add_argument("--dims", type=int, nargs="+", default=[14, 23])
    p.add_argument("--reps", type=int, default=5, help="timed repeats of the baselines, N <= 1024")
    p.add_argument("--reps-large", type=int, default=1, help="timed repeats of the baselines, N > 1024")
    p.add_argument("--reps-ours", type=int, default=7, help="timed repeats of the closed form and SEEM")
    p.add_argument("--seem-n", type=int, default=2560)
    p.add_argument("--out", default=None, help="write the markdown table here (else print it)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked but CUDA is not available")
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    sections = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        rows = [bench_gram(d, n, args, device, dtype) for d in args.dims for n in args.sizes]
        seem_rows = [(d, args.seem_n, *bench_seem(d, args.seem_n, args, device, dtype)) for d in args.dims]
        sections.append(f"### {threads} thread{'s' if threads > 1 else ''}\n\n" + table(rows, seem_rows, device, dtype, load))
        print(sections[-1], flush=True)
    text = "\n".join(sections)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
