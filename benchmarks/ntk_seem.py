"""Benchmark: NTK Gram G(X, X) of the paper's TD3 critic, three ways, and SEEM end to end.

Critic: MLP with 2 hidden layers of 256 ReLU units (SPEC Ambiguity 13), input d ∈ {14, 23}
(Hopper 11+3, Walker2d/HalfCheetah 17+6). For each N, in one run, on one machine:

- ``loop``: the authors' method, one backward per sample, stack Z, then Z^T Z;
- ``func``: ``torch.func`` (vmap of per-sample jacrev), then Z^T Z;
- ``closed``: seemlab's closed form (Hadamard products of per-layer Grams).

Baselines get enough memory to build Z once (no chunk recomputation). Ratios are of medians
measured in this run. SEEM end to end = ``seemlab.seem.seem`` (two Grams plus Krylov eigs).

Users' critics as plain ``nn.Sequential`` stacks (closed form vs torch.func, N = ``--seq-n``):
the CORL TD3+BC critic Linear-ReLU-Linear-ReLU-Linear and a Diffusion-QL-style Mish critic with
LayerNorm, Linear-LN-Mish-Linear-LN-Mish-Linear, both width 256.

    python benchmarks/ntk_seem.py --threads 2 --out benchmarks/results/ntk_seem_cpu.md
    python benchmarks/ntk_seem.py --threads 1 --tables sequential --out benchmarks/results/ntk_seem_cpu.md --append

(the committed file: the TD3-critic tables at 2 threads, then the ``nn.Sequential`` rows at
1 thread, measured later on a machine whose 2 cores were shared, where 2 threads spin-wait).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from seemlab.nets import MLP, n_params
from seemlab.ntk import gram, supports_closed_form
from seemlab.seem import seem

BIG = 2**31  # baselines: never chunk
SEQUENTIAL_CRITICS = {  # name -> (d, width) -> nn.Sequential critic, as users write them
    "Sequential ReLU (CORL TD3+BC)": lambda d, w: nn.Sequential(
        nn.Linear(d, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 1)),
    "Sequential Mish + LayerNorm": lambda d, w: nn.Sequential(
        nn.Linear(d, w), nn.LayerNorm(w), nn.Mish(), nn.Linear(w, w), nn.LayerNorm(w), nn.Mish(), nn.Linear(w, 1)),
}


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


def bench_sequential(name: str, d: int, n: int, args, device, dtype) -> dict:
    """Closed form vs torch.func on one user ``nn.Sequential`` critic (seeded init), N rows."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = SEQUENTIAL_CRITICS[name](d, args.seq_width).to(device=device, dtype=dtype)
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(n), dtype=dtype).to(device)
    t_closed, c_closed, G = timed(lambda: gram(model, X, method="closed"), args.reps_ours)
    t_func, c_func, G_func = timed(lambda: gram(model, X, method="func", max_elems=BIG), args.reps)
    return dict(name=name, d=d, n=n, width=args.seq_width, P=n_params(model), closed=t_closed, func=t_func,
                c_closed=c_closed, c_func=c_func, auto="closed" if supports_closed_form(model) else "func",
                err=((G - G_func).norm() / G_func.norm()).item())


def sequential_table(rows: list[dict]) -> str:
    head = [
        "Users' critics written as `nn.Sequential` (2 hidden layers, width "
        f"{', '.join(sorted({str(r['width']) for r in rows}))}), G(X, X), closed form vs torch.func:",
        "",
        "| critic | d | N | P | `auto` uses | torch.func (s) | closed form (s) | func / closed | max rel. diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head.append(
            f"| {r['name']} | {r['d']} | {r['n']} | {r['P']} | {r['auto']} | {r['func']:.3f} ({r['c_func']:.3f}) "
            f"| {r['closed']:.4f} ({r['c_closed']:.4f}) | {r['func'] / r['closed']:.0f}× "
            f"({r['c_func'] / r['c_closed']:.0f}×) | {r['err']:.1e} |"
        )
    return "\n".join(head) + "\n"


def bench_seem(d: int, n: int, args, device, dtype) -> float:
    model = MLP(d, depth=2, width=256, seed=0, dtype=dtype).to(device)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(n, d, generator=gen, dtype=dtype).to(device)
    X_star = X + 0.1 * torch.randn(n, d, generator=gen, dtype=dtype).to(device)
    t, c, r = timed(lambda: seem(model, X, X_star, 0.99), args.reps_ours)
    return t, c, r


def preamble(device, dtype, load: str) -> str:
    return (
        f"{dtype}, device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}; "
        f"load average at the start: {load}.\n"
        "Medians in seconds, wall clock (CPU time of this process in brackets); ratios are baseline / closed form, "
        "measured in the same run, wall (CPU).\n"
    )


def table(rows: list[dict], seem_rows: list) -> str:
    head = [
        "NTK Gram G(X, X) of the TD3 critic (`seemlab.nets.MLP`, 2×256 ReLU):",
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


def section(threads: int, args, device, dtype) -> str:
    """One thread count: the preamble, then each table asked for by ``--tables``."""
    torch.set_num_threads(threads)
    parts = [preamble(device, dtype, " ".join(f"{x:.1f}" for x in os.getloadavg()))]
    if "mlp" in args.tables:
        rows = [bench_gram(d, n, args, device, dtype) for d in args.dims for n in args.sizes]
        seem_rows = [(d, args.seem_n, *bench_seem(d, args.seem_n, args, device, dtype)) for d in args.dims]
        parts.append(table(rows, seem_rows))
    if "sequential" in args.tables:
        cases = [(name, d) for name in SEQUENTIAL_CRITICS for d in args.seq_dims]
        parts.append(sequential_table([bench_sequential(name, d, args.seq_n, args, device, dtype) for name, d in cases]))
    return f"### {threads} thread{'s' if threads > 1 else ''}\n\n" + "\n".join(parts)


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
    p.add_argument("--tables", nargs="+", default=["mlp", "sequential"], choices=["mlp", "sequential"])
    p.add_argument("--seq-n", type=int, default=512, help="N of the nn.Sequential critic rows")
    p.add_argument("--seq-dims", type=int, nargs="+", default=[23], help="input features of the nn.Sequential rows")
    p.add_argument("--seq-width", type=int, default=256)
    p.add_argument("--out", default=None, help="write the markdown table here (else print it)")
    p.add_argument("--append", action="store_true", help="append the sections to --out instead of replacing it")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked but CUDA is not available")
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    sections = []
    for threads in args.threads:
        sections.append(section(threads, args, device, dtype))
        print(sections[-1], flush=True)
    text = "\n".join(sections)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        old = Path(args.out).read_text(encoding="utf-8") + "\n" if args.append and Path(args.out).exists() else ""
        Path(args.out).write_text(old + text, encoding="utf-8")


if __name__ == "__main__":
    main()
