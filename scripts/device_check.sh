#!/bin/bash
# The GPU check of issue 18, as one call on a lent GPU machine (docs/backends.md "GPU",
# MODEL_CARD.md): the `gpu` tests, the CUDA timings, then the GPU fine-tune for the time left.
# Run from the repository root with ../shared/data present (or .gpudata/ holding the training clips,
# linked there) and the package's dependencies importable (wheels in .whl/ are installed first).
# Env: BUDGET (seconds for the whole check, default 540), PY (python), DEV (cuda), WORKERS (loader
# processes), OUT (where results go), SMOKE=1 (a tiny dry run on the CPU).
# The weights shipped came from the training stage of a second call with a fixed step count:
#   frame-restore train --config config/train_driving_gpu.yaml
set -u
T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET:-540}))
PY=${PY:-python3}; DEV=${DEV:-cuda}; WORKERS=${WORKERS:-10}; OUT=${OUT:-/tmp/gpuout}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ] && [ "$PY" = python3 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
fi
[ -e ../shared/data ] || { mkdir -p ../shared && ln -sfn "$PWD/.gpudata" ../shared/data; }
FR="$PY -m frame_restore_ros.cli"
# The config fine-tunes runs/driving_gpu/init_siammcvae_small.safetensors: INIT, or the shipped weights.
mkdir -p runs/driving_gpu
[ -f runs/driving_gpu/init_siammcvae_small.safetensors ] ||
  cp "${INIT:-frame_restore_ros/weights/siammcvae_small.safetensors}" runs/driving_gpu/init_siammcvae_small.safetensors
left() { echo $((DEADLINE - $(date +%s))); }
stage() { echo "=== $(date +%T) [$(( $(date +%s) - T0 ))s] $*"; }
{
stage machine
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; nproc; df -h /dev/shm
$PY -c "import torch, onnxruntime as o; print(torch.__version__, torch.cuda.is_available(), o.__version__, o.get_available_providers())"
# Loader workers hand batches over in /dev/shm (24 batches of 34 MB in flight at batch 64).

stage probe: step rate at batch 64 with $WORKERS loader workers
SM=""; [ "${SMOKE:-0}" = 1 ] && SM="--batch-size 4 --preset small"
timeout 60 $FR train --config config/train_driving_gpu.yaml --split sample:bikes.mp4 --max-frames 60 \
  --steps 100000 --eval-every 100000 --checkpoint-every 100000 --max-minutes 0.3 --device $DEV \
  --loader-workers $WORKERS $SM -o /tmp/probe/w.safetensors 2>&1 | tr '\r' '\n' > /tmp/probe.log
grep -v '^train:' /tmp/probe.log | tail -3; grep -o 'train: .*it/s' /tmp/probe.log | tail -1
# The steady rate tqdm reports at the end (steps over the whole 0.3 minutes undercount it 4x:
# the workers' start and the step-0 validation are in them).
RATE=$(grep -o '[0-9.]*it/s' /tmp/probe.log | tail -1 | grep -o '^[0-9.]*')
echo "probe: ${RATE:-no} steps/s"

stage gpu tests
timeout 90 $PY -m pytest -q -m "gpu or tensorrt" -rs -p no:cacheprovider test/test_engine_cache_and_selection.py test/test_training.py 2>&1 | tail -8

stage bench backends
timeout 60 $FR bench backends --backends torch-cuda --presets small base --json $OUT/bench_backends_cuda.json 2>&1 | tail -12
stage bench end-to-end
timeout 150 $FR bench end-to-end --backends torch-cuda --runs 1 --failure patches --no-progress --json $OUT/e2e_cuda_patches.json 2>&1 | tail -12
timeout 50 $FR bench end-to-end --backends torch-cuda --runs 1 --failure block --no-progress --json $OUT/e2e_cuda_block.json 2>&1 | tail -12

stage train
MIN=$($PY -c "print(max(0.5, round(($(left) - 60) / 60, 2)))")
STEPS=$($PY -c "print(max(200, int(${RATE:-2} * 60 * $MIN * 0.9)))")
EV=$(( STEPS / 8 ))
echo "train: $STEPS steps, eval every $EV, at most $MIN minutes of training"
train() {
  timeout $(( $(left) - 8 )) $FR train --config config/train_driving_gpu.yaml --steps $STEPS --eval-every $EV \
    --checkpoint-every $EV --max-minutes $MIN --device $DEV --loader-workers $1 $SM 2>&1 \
    | tr '\r' '\n' | awk '!/^train:/ || /stopped/ || NR % 100 == 0' >> $OUT/train.log
}
train $WORKERS
if [ ! -s runs/driving_gpu/siammcvae_small.safetensors ] && [ $(left) -gt 100 ]; then
  echo "no weights with workers: again in the loop"; MIN=$($PY -c "print(round(($(left) - 60) / 60, 2))"); train 0
fi
tail -25 $OUT/train.log
cp runs/driving_gpu/siammcvae_small.safetensors $OUT/ && sha256sum $OUT/siammcvae_small.safetensors
stage done
} 2>&1 | tee $OUT/run.log
