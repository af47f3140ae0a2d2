#!/usr/bin/python3
"""The three convolutions of the Keras flowers model in PyTorch, timed like bench/bench_conv.cpp, with ratios.

Batch 32, 3x3 'same' (padding=1), bias, ReLU, channels_last, float32:
  conv1 (32, 180, 180, 3) -> 16,  conv2 (32, 90, 90, 16) -> 32,  conv3 (32, 45, 45, 32) -> 64.
Forward = conv + bias + relu. Backward = grads of input, weight and bias through the relu for an upstream
gradient (what lumen's Conv2D::backward computes). GFLOP/s counts 2*N*OH*OW*K*F per product (K = 9*C):
one product forward, two (dW, dX) backward, exactly as lumen_bench's counters do.

Usage (Debian's interpreter has python3-torch):
  lumen_bench --benchmark_filter=Conv2D --benchmark_repetitions=3 --benchmark_out=lumen_conv.json
  /usr/bin/python3 bench/torch_conv.py --threads 1 2 --lumen-json lumen_conv.json
Without --lumen-json only PyTorch's numbers are printed. Both sides report the best of several runs (lumen: the
best repetition; PyTorch: the fastest of --repeats timed calls after warm-up), the least disturbed figure on a
shared machine.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

BATCH = 32
CONVS = [("conv1 180x180x3->16", 180, 3, 16), ("conv2 90x90x16->32", 90, 16, 32), ("conv3 45x45x32->64", 45, 32, 64)]


def flops(hw, c, f):
    return 2.0 * BATCH * hw * hw * 9 * c * f


def best_seconds(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)  # best of: on a shared machine the fastest run is the least disturbed one


def time_torch(threads, repeats):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {}
    for layer, (name, hw, c, f) in enumerate(CONVS):
        x = torch.rand(BATCH, c, hw, hw).to(memory_format=torch.channels_last)
        w = (torch.rand(f, c, 3, 3) - 0.5).to(memory_format=torch.channels_last)
        b = torch.zeros(f)

        def forward():
            with torch.no_grad():
                return F.relu(F.conv2d(x, w, b, padding=1))

        xg = x.clone().requires_grad_(True)
        wg = w.clone().requires_grad_(True)
        bg = b.clone().requires_grad_(True)
        y = F.relu(F.conv2d(xg, wg, bg, padding=1))
        dy = (torch.rand_like(y) * 2 - 1).contiguous(memory_format=torch.channels_last)

        def backward():
            xg.grad = wg.grad = bg.grad = None
            torch.autograd.grad(y, (xg, wg, bg), dy, retain_graph=True)

        fwd = best_seconds(forward, repeats)
        bwd = best_seconds(backward, repeats)
        out[(layer, "forward")] = flops(hw, c, f) / fwd * 1e-9
        out[(layer, "backward")] = 2 * flops(hw, c, f) / bwd * 1e-9
    return out


def read_lumen(path):
    """{(layer, kind, threads): GFLOP/s} from lumen_bench's JSON output."""
    with open(path) as fh:
        data = json.load(fh)
    res = {}
    for b in data["benchmarks"]:
        name = b["name"]  # BM_Conv2D_forward/layer:0/threads:1/real_time
        if not name.startswith("BM_Conv2D_") or b.get("run_type") == "aggregate":
            continue
        kind = "forward" if "_forward/" in name else "backward"
        parts = dict(p.split(":") for p in name.split("/")[1:] if ":" in p)
        key = (int(parts["layer"]), kind, int(parts["threads"]))
        res[key] = max(res.get(key, 0.0), b["GFLOP/s"])  # best of --benchmark_repetitions
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--lumen-json", help="lumen_bench --benchmark_format=json output")
    args = ap.parse_args()
    lumen = read_lumen(args.lumen_json) if args.lumen_json else {}
    print(f"torch {torch.__version__}")
    print("| conv | pass | threads | lumen GFLOP/s | PyTorch GFLOP/s | lumen / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for threads in args.threads:
        t = time_torch(threads, args.repeats)
        for kind in ("forward", "backward"):
            for layer, (name, *_rest) in enumerate(CONVS):
                p = t[(layer, kind)]
                l = lumen.get((layer, kind, threads))
                ls = f"{l:.1f}" if l is not None else "-"
                ratio = f"{l / p:.2f}" if l is not None else "-"
                print(f"| {name} | {kind} | {threads} | {ls} | {p:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
