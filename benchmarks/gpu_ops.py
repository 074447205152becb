"""GPU benchmark of the custom ops: CUDA kernels vs the PyTorch reference (and torch.compile of it).

    python benchmarks/gpu_ops.py                 # full run (needs a CUDA GPU, ninja, nvcc)
    python benchmarks/gpu_ops.py --quick         # fewer iterations, smaller op inputs

1. Accuracy: for fresh random inputs, the relative error ||cuda - ref|| / ||ref|| of outputs,
   first derivatives and (bias_act) second derivatives, in float32 (limit 1e-5, TF32 off) and
   float16 (limit 1e-3).
2. Speed: median forward+backward time of each op and of G synthesis (paper256 at 256², batch 32,
   fp16 blocks as in StyleGAN2-ADA, training mode) for impl=cuda, impl=ref and torch.compile(ref).
   Target: G forward+backward with CUDA ops at least 1.3x faster than the reference.

Prints a markdown table and writes benchmarks/results/gpu_ops.json. Exits 2 without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from styleinv_model.ops import ACTIVATIONS, bias_act, conv2d_resample, setup_filter, upfirdn2d  # noqa: E402
from styleinv_model.ops import build  # noqa: E402
from styleinv_model.stylegan2 import build_generator  # noqa: E402

LIMITS = {torch.float32: 1e-5, torch.float16: 1e-3}


@dataclass
class Setup:
    """Where the benchmark runs. `--selftest-cpu` checks this script's plumbing without a GPU: it
    runs on the CPU with the reference standing in for the kernels (every number is meaningless)."""

    device: str = "cuda"
    impl_under_test: str = "cuda"


SETUP = Setup()


@dataclass
class AccuracyRow:
    op: str
    dtype: str
    quantity: str
    rel_error: float
    max_rel_error: float
    limit: float
    ok: bool


@dataclass
class TimingRow:
    name: str
    impl: str
    median_ms: float | None
    note: str = ""


@dataclass
class Report:
    device: str
    torch: str
    cuda: str | None
    python: str
    build_seconds: float
    accuracy: list[AccuracyRow] = field(default_factory=list)
    timing: list[TimingRow] = field(default_factory=list)
    g_speedup_cuda_vs_ref: float | None = None
    g_target: float = 1.3


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| (Frobenius): the limit applies to this."""
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def max_rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: reported beside, more sensitive to a single rounding in fp16."""
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def outputs_and_grads(fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], second_order: bool,
                      seed: int) -> dict[str, torch.Tensor]:
    """Output, gradients of <out, g>, and (optionally) gradients of |grad_x|^2."""
    inputs = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*inputs)
    gen = torch.Generator(device=out.device).manual_seed(seed)
    g = torch.randn(out.shape, generator=gen, device=out.device, dtype=out.dtype)
    grads = torch.autograd.grad(out, inputs, g, create_graph=second_order)
    result = {"output": out.detach()}
    result.update({f"grad_{i}": gr.detach() for i, gr in enumerate(grads)})
    if second_order and grads[0].requires_grad:  # a linear op's gradient does not depend on x
        second = torch.autograd.grad(grads[0].float().square().sum(), inputs, allow_unused=True)
        result.update({f"grad2_{i}": s.detach() for i, s in enumerate(second) if s is not None})
    return result


def check_accuracy(report: Report, seed: int) -> None:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    f4 = setup_filter([1, 3, 3, 1], device=SETUP.device)
    cases: list[tuple[str, Callable[[str], Callable[..., torch.Tensor]], Callable[[torch.dtype], list[torch.Tensor]], bool]] = []
    for act in sorted(ACTIVATIONS):
        cases.append((f"bias_act[{act}]",
                      lambda impl, act=act: (lambda x, b: bias_act(x, b, act=act, gain=1.3, clamp=3.0, impl=impl)),
                      lambda dt: [torch.randn([4, 32, 9, 9], device=SETUP.device, dtype=dt),
                                  torch.randn([32], device=SETUP.device, dtype=dt)], True))
    for name, kwargs in [("upfirdn2d[up2]", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
                         ("upfirdn2d[down2]", dict(down=2, padding=1)),
                         ("upfirdn2d[up3,down2,crop]", dict(up=3, down=2, padding=[-1, 2, 3, -2], flip_filter=True))]:
        cases.append((name, lambda impl, kw=kwargs: (lambda x: upfirdn2d(x, f4, impl=impl, **kw)),
                      lambda dt: [torch.randn([4, 16, 17, 15], device=SETUP.device, dtype=dt)], False))
    for name, kwargs in [("conv2d_resample[up2]", dict(up=2)), ("conv2d_resample[down2]", dict(down=2))]:
        cases.append((name, lambda impl, kw=kwargs: (lambda x, w: conv2d_resample(x, w, f=f4, padding=1, impl=impl, **kw)),
                      lambda dt: [torch.randn([4, 16, 16, 16], device=SETUP.device, dtype=dt),
                                  torch.randn([24, 16, 3, 3], device=SETUP.device, dtype=dt) * 0.1], False))
    for name, make_fn, make_inputs, second in cases:
        for dtype in (torch.float32, torch.float16):
            torch.manual_seed(seed)
            inputs = make_inputs(dtype)
            ref = outputs_and_grads(make_fn("ref"), inputs, second, seed)
            cuda = outputs_and_grads(make_fn(SETUP.impl_under_test), inputs, second, seed)
            for quantity, expected in ref.items():
                if quantity not in cuda:
                    report.accuracy.append(AccuracyRow(name, str(dtype).replace("torch.", ""), quantity,
                                                       float("inf"), float("inf"), LIMITS[dtype], False))
                    continue
                err = rel_error(cuda[quantity], expected)
                limit = LIMITS[dtype]
                report.accuracy.append(AccuracyRow(name, str(dtype).replace("torch.", ""), quantity, err,
                                                   max_rel_error(cuda[quantity], expected), limit, err <= limit))
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True


def time_cuda(fn: Callable[[], None], warmup: int, iters: int) -> float:
    for _ in range(warmup):
        fn()
    if SETUP.device == "cpu":
        times: list[float] = []
        for _ in range(iters):
            start_s = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start_s) * 1000)
        return statistics.median(times)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


class forced_ops:
    """Temporarily set STYLEINV_OPS."""

    def __init__(self, impl: str) -> None:
        self.impl = impl

    def __enter__(self) -> None:
        self.previous = os.environ.get("STYLEINV_OPS")
        os.environ["STYLEINV_OPS"] = self.impl

    def __exit__(self, *exc: object) -> None:
        if self.previous is None:
            os.environ.pop("STYLEINV_OPS", None)
        else:
            os.environ["STYLEINV_OPS"] = self.previous


def op_benchmarks(batch: int, size: int) -> dict[str, tuple[Callable[[], torch.Tensor], list[torch.Tensor]]]:
    f4 = setup_filter([1, 3, 3, 1], device=SETUP.device)
    x = torch.randn([batch, 128, size, size], device=SETUP.device, dtype=torch.float16, requires_grad=True)
    b = torch.randn([128], device=SETUP.device, dtype=torch.float16, requires_grad=True)
    w = torch.randn([128, 128, 3, 3], device=SETUP.device, dtype=torch.float16, requires_grad=True)
    return {
        f"bias_act lrelu+clamp [{batch},128,{size},{size}] fp16": (lambda: bias_act(x, b, act="lrelu", clamp=256), [x, b]),
        f"upsample2d x2 [{batch},128,{size},{size}] fp16": (
            lambda: upfirdn2d(x, f4, up=2, padding=[2, 1, 2, 1], gain=4), [x]),
        f"downsample2d x2 [{batch},128,{size},{size}] fp16": (lambda: upfirdn2d(x, f4, down=2, padding=1), [x]),
        f"conv2d_resample up2 3x3 [{batch},128,{size},{size}] fp16": (
            lambda: conv2d_resample(x, w, f=f4, up=2, padding=1), [x, w]),
    }


def fwd_bwd(fn: Callable[[], torch.Tensor], inputs: list[torch.Tensor]) -> Callable[[], None]:
    def step() -> None:
        out = fn()
        torch.autograd.grad(out.float().sum(), inputs)
    return step


def impls(args: argparse.Namespace) -> tuple[str, ...]:
    return ("cuda", "ref") if args.no_compile else ("cuda", "ref", "compile(ref)")


def run_timings(report: Report, args: argparse.Namespace) -> None:
    for name, (fn, inputs) in op_benchmarks(args.op_batch, args.op_size).items():
        for impl in impls(args):
            try:
                with forced_ops("ref" if impl != "cuda" else SETUP.impl_under_test):
                    target = torch.compile(fn) if impl == "compile(ref)" else fn
                    ms = time_cuda(fwd_bwd(target, inputs), args.warmup, args.iters)
                report.timing.append(TimingRow(name, impl, ms))
            except Exception as error:  # noqa: BLE001 - a failing variant is reported, not fatal
                report.timing.append(TimingRow(name, impl, None, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"))

    torch.manual_seed(0)
    G = build_generator("paper256", resolution=args.resolution, **args.g_overrides).to(SETUP.device).train()
    ws = G.mapping(torch.randn([args.batch, G.z_dim], device=SETUP.device)).detach().requires_grad_(True)
    params = [p for p in G.synthesis.parameters()]
    name = f"G synthesis fwd+bwd {args.resolution}², batch {args.batch}, fp16 (paper256)"
    results: dict[str, float | None] = {}
    for impl in impls(args):
        try:
            with forced_ops("ref" if impl != "cuda" else SETUP.impl_under_test):
                synth = torch.compile(G.synthesis) if impl == "compile(ref)" else G.synthesis

                def step() -> None:
                    img = synth(ws, noise_mode="random")
                    torch.autograd.grad(img.sum(), [ws] + params)

                ms = time_cuda(step, args.warmup, args.iters)
            results[impl] = ms
            report.timing.append(TimingRow(name, impl, ms))
        except Exception as error:  # noqa: BLE001
            results[impl] = None
            report.timing.append(TimingRow(name, impl, None, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"))
    if results.get("cuda") and results.get("ref"):
        report.g_speedup_cuda_vs_ref = results["ref"] / results["cuda"]


def markdown(report: Report) -> str:
    lines = [f"Device: {report.device}; torch {report.torch} (CUDA {report.cuda}); Python {report.python}; "
             f"extension build/load {report.build_seconds:.1f} s", "",
             "| op | dtype | quantity | rel. error ‖Δ‖/‖ref‖ | max|Δ|/max|ref| | limit | ok |",
             "|---|---|---|---|---|---|---|"]
    for row in report.accuracy:
        lines.append(f"| {row.op} | {row.dtype} | {row.quantity} | {row.rel_error:.2e} | {row.max_rel_error:.2e} | "
                     f"{row.limit:.0e} | {'yes' if row.ok else 'NO'} |")
    lines += ["", "| benchmark | impl | median ms | note |", "|---|---|---|---|"]
    for row in report.timing:
        ms = f"{row.median_ms:.3f}" if row.median_ms is not None else "failed"
        lines.append(f"| {row.name} | {row.impl} | {ms} | {row.note} |")
    if report.g_speedup_cuda_vs_ref is not None:
        verdict = "meets" if report.g_speedup_cuda_vs_ref >= report.g_target else "MISSES"
        lines += ["", f"G fwd+bwd speed-up cuda vs ref: {report.g_speedup_cuda_vs_ref:.2f}x "
                      f"({verdict} the {report.g_target}x target)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--op-batch", type=int, default=32)
    parser.add_argument("--op-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 warm-up + 5 timed iterations, op inputs 16x128x32x32")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile(ref) rows")
    parser.add_argument("--selftest-cpu", action="store_true",
                        help="check the script on the CPU (reference ops stand in for the kernels; numbers meaningless)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_ops.json")
    args = parser.parse_args(argv)
    args.g_overrides = {}
    if args.quick:
        args.warmup, args.iters, args.op_batch, args.op_size = 3, 5, 16, 32
    if args.selftest_cpu:
        SETUP.device, SETUP.impl_under_test = "cpu", "ref"
        args.warmup, args.iters, args.op_batch, args.op_size, args.batch, args.resolution = 1, 1, 2, 8, 2, 32
        args.g_overrides = dict(channel_base=512, channel_max=16)
        args.out = args.out.with_name("gpu_ops_selftest_cpu.json")
        report = Report("cpu (self-test: reference ops stand in for the kernels)", torch.__version__,
                        torch.version.cuda, platform.python_version(), 0.0)
        return finish(report, args)
    if not torch.cuda.is_available():
        print("gpu_ops: no CUDA GPU is available; this benchmark needs one (nothing measured)")
        return 2
    start = time.perf_counter()
    plugin, reason = build.get_plugin()
    build_seconds = time.perf_counter() - start
    if plugin is None:
        print(f"gpu_ops: the CUDA kernels are unavailable: {reason}")
        return 1
    report = Report(torch.cuda.get_device_name(), torch.__version__, torch.version.cuda, platform.python_version(),
                    build_seconds)
    return finish(report, args)


def finish(report: Report, args: argparse.Namespace) -> int:
    """Run the accuracy checks and the timings, print and save the report."""
    try:
        check_accuracy(report, args.seed)
        run_timings(report, args)
    finally:
        text = markdown(report)
        print(text)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = asdict(report)
        payload["command"] = " ".join([Path(sys.executable).name] + sys.argv)
        args.out.write_text(json.dumps(payload, indent=1))
        print(f"\nwrote {args.out}")
    failed = [r for r in report.accuracy if not r.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - print the trace, exit non-zero
        traceback.print_exc()
        sys.exit(1)
