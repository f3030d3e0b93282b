"""Core benchmarks, each side by side with torchvision in one process.

Run: ``python benchmarks/bench_core.py [--repeats N] [--threads T]``. Prints
median times and ratios (cvgraph / torchvision; below 1 is faster):

* ResNet-50 build time, spec text to module, vs torchvision's constructor;
* validation plus shape inference alone;
* eval forward at batch 8, 224x224 on the CPU, unoptimized and with the
  inference optimizations (BatchNorm folding, channels_last);
* shape inference on generated chains of 1,000 and 10,000 nodes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).parent))

import cvgraph  # noqa: E402
from cvgraph.pipeline import load_spec  # noqa: E402
from cvgraph.infer import infer_shapes  # noqa: E402
from cvgraph.optimize import optimize_for_inference  # noqa: E402
from _timing import interleaved_medians, report  # noqa: E402


def bench_build(repeats: int) -> None:
    medians = interleaved_medians(
        {
            "torchvision resnet50()": lambda: torchvision.models.resnet50(weights=None),
            "cvgraph.build('resnet50')": lambda: cvgraph.build("resnet50"),
        },
        repeats,
    )
    report("ResNet-50 build (spec text to module)", medians, "torchvision resnet50()")

    validate = interleaved_medians(
        {
            "torchvision resnet50()": lambda: torchvision.models.resnet50(weights=None),
            "load_spec + infer_shapes": lambda: infer_shapes(load_spec("resnet50"), {"image": "1x3x224x224"}),
        },
        repeats,
    )
    report("ResNet-50 validation and shape inference alone", validate, "torchvision resnet50()")


def bench_forward(repeats: int, device: str = "cpu", dtype: torch.dtype = torch.float32) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(weights=None).eval()
    model = cvgraph.build("resnet50").eval()
    model.load_state_dict(reference.state_dict())
    optimized = optimize_for_inference(model, fold_bn=True, channels_last=True)
    reference, model, optimized = (m.to(device=device, dtype=dtype) for m in (reference, model, optimized))
    x = torch.randn(8, 3, 224, 224, device=device, dtype=dtype)

    def run(module):
        def call():
            with torch.inference_mode():
                module(x)
            if device == "cuda":
                torch.cuda.synchronize()

        return call

    with torch.inference_mode():
        error = (optimized(x) - reference(x)).abs().max().item()
    medians = interleaved_medians(
        {
            "torchvision eager": run(reference),
            "cvgraph unoptimized": run(model),
            "cvgraph fold_bn+channels_last": run(optimized),
        },
        repeats,
    )
    where = f"{torch.get_num_threads()} CPU threads" if device == "cpu" else torch.cuda.get_device_name()
    report(f"ResNet-50 eval forward, batch 8, 224x224, {dtype}, {where}", medians, "torchvision eager")
    print(f"  max |optimized - torchvision| = {error:.2e}")


def chain_spec(count: int) -> dict:
    nodes = {}
    for i in range(count):
        if i % 4 == 3:
            nodes[f"n{i}"] = {"block": "add", "from": [f"n{i - 1}", f"n{i - 3}"]}
        elif i % 2 == 0:
            nodes[f"n{i}"] = {"block": "conv2d", "args": {"out_channels": 8, "kernel_size": 3, "padding": 1}}
        else:
            nodes[f"n{i}"] = {"block": "relu"}
    return {"name": f"chain{count}", "inputs": {"image": {"channels": 8}}, "nodes": nodes}


def bench_inference_scaling() -> None:
    print("\nShape inference on generated specs (load_spec + infer_shapes, median of 3)")
    times = {}
    for count in (1_000, 10_000):
        data = chain_spec(count)
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            spec = load_spec(data)
            infer_shapes(spec, {"image": "1x8x32x32"})
            samples.append(time.perf_counter() - start)
        times[count] = sorted(samples)[1]
        print(f"  {count:>6} nodes: {times[count]:.3f} s")
    print(f"  growth 1,000 -> 10,000 nodes: x{times[10_000] / times[1_000]:.1f} (linear: x10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip-forward", action="store_true")
    parser.add_argument("--skip-build", action="store_true", help="only the forward benchmark")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_build:
        bench_build(args.repeats)
    if not args.skip_forward:
        bench_forward(args.repeats, args.device, getattr(torch, args.dtype))
    if not args.skip_build:
        bench_inference_scaling()


if __name__ == "__main__":
    main()
