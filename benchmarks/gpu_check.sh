#!/usr/bin/env bash
# The GPU checks, as one script for a machine with a CUDA GPU: the CUDA and
# equivalence tests, then the ResNet-50 forward benchmark in fp32 and bf16.
# Usage: bash benchmarks/gpu_check.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}
"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print(torch.cuda.get_device_name())"
"$python" -m pytest -q tests/core/test_compiler.py tests/core/test_resnet_equivalence.py
"$python" benchmarks/bench_core.py --device cuda --dtype float32 --repeats 30
"$python" benchmarks/bench_core.py --device cuda --dtype bfloat16 --repeats 30 --skip-build
