#!/usr/bin/env bash
# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
# Re-create every run behind models/README.md: the synthetic dataset, then the trainings.
# Usage: tools/train_model_zoo.sh [STEP ...]   (no STEP = all, in order)
# Steps: data 80k 15k 263k 80k-kd 80k-zoom ggcnn grconvnet 80k-8ep; real-data real-80k real-15k
# real-15k-kd real-80k-head (the real-camera fine-tuning of models/README.md, the 15K's
# distillation from the 80K after it and the 80K's 1x1 head refit, not in the default list);
# the two ablation tables
# at the reduced budget of models/README.md (ablation6, ablation5: not in the default list,
# about 1.5-2.5 h each on 2 shared cores). Each writes runs/<name>/, a log
# runs/<name>.log; a finished step (runs/<name>/.done) is skipped. Run from the
# repository root after `make setup`; 1 thread per run so two steps can share 2 cores.
set -euo pipefail
# shellcheck disable=SC1091
source env.sh
DATA=datasets/synth-v1
COMMON=(--dataset "jacquard:${DATA}" --train-split train --val-split val --batch-size 8
        --batches-per-epoch 250 --val-batches 25 --seed 0 --threads 1 --no-progress)
ABLATION=(--dataset "jacquard:${DATA}" --train-split train --val-split val --epochs 4
          --batches-per-epoch 250 --val-batches 25 --seed 0 --threads 1 --no-progress)

train() {  # train NAME ARGS...
  local name=$1; shift
  if [[ -f runs/${name}/.done ]]; then
    echo "skip ${name}: runs/${name} is complete"; return
  fi
  mkdir -p runs
  echo "$(date -u +%FT%TZ) start ${name}" | tee -a runs/train_model_zoo.log
  /usr/bin/time -f "${name}: %e s wall" kufenet train "${COMMON[@]}" "$@" --out "runs/${name}" \
    > "runs/${name}.log" 2>&1
  tail -n 2 "runs/${name}.log" | tee -a runs/train_model_zoo.log
  touch "runs/${name}/.done"
}

step() {
  case $1 in
    data) [[ -d ${DATA}/train ]] || kufenet datagen --out "${DATA}" --scenes 3000 --seed 0 \
            --workers 2 ;;
    80k) train kufenet-80k-v1 --model kufenet-80k --epochs 16 --threads 2 ;;
    15k) train kufenet-15k-v1 --model kufenet-15k --epochs 16 ;;
    263k) train kufenet-263k-v1 --model kufenet-263k --epochs 8 ;;
    80k-8ep) train kufenet-80k-8ep --model kufenet-80k --epochs 8 ;;
    80k-zoom) train kufenet-80k-zoom --model kufenet-80k --epochs 16 --zoom-range 0.6,1.6 ;;
    80k-kd) train kufenet-80k-kd --model kufenet-80k --epochs 8 \
              --teacher runs/kufenet-263k-v1/best.safetensors --kd fruit+hint ;;
    # stopped after its first epoch (7.7 min an epoch on 1 shared core): see models/README.md
    ggcnn) train ggcnn-8ep --model ggcnn --epochs 8 ;;
    grconvnet) train grconvnet-1ep --model grconvnet --epochs 1 ;;
    # Table VI (encoding switches) and Table V (KD strategies, 15K student, shipped 80K as
    # teacher), 4 epochs a row; resumable: a finished row is skipped
    ablation6) kufenet ablation table6 "${ABLATION[@]}" --model kufenet-80k \
                 --out runs/ablation-table6 > runs/ablation-table6.log 2>&1 ;;
    ablation5) kufenet ablation table5 "${ABLATION[@]}" --model kufenet-15k \
                 --teacher models/kufenet-80k.safetensors --out runs/ablation-table5 \
                 > runs/ablation-table5.log 2>&1 ;;
    # real-camera data: the current generator's defaults (camera 0.3-1.5 m, tilt 0-50 deg,
    # Kinect / RealSense / perfect depth, household shapes, photo textures)
    real-data) [[ -d datasets/synth-real2/train ]] || kufenet datagen --out datasets/synth-real2 \
                 --scenes 1500 --seed 2 --workers 2 ;;
    real-80k|real-15k)
      local size=${1#real-}
      REAL=(--dataset jacquard:datasets/synth-real2 --train-split train --val-split val
            --batch-size 8 --batches-per-epoch 250 --val-batches 25 --threads 1 --no-progress
            --zoom-range 0.8,1.25 --window-m 0.5 --support-plane --depth stereo
            --label-margin-m 0.02 --lr 5e-4 --epochs 5 --seed 2)
      mkdir -p runs
      kufenet train --model "kufenet-${size}" "${REAL[@]}" --init "models/kufenet-${size}.safetensors" \
        --out "runs/real-${size}" > "runs/real-${size}.log" 2>&1
      if [[ $size == 80k ]]; then  # weight-space ensemble with the weights it started from
        kufenet interpolate "models/kufenet-${size}.safetensors" "runs/real-${size}/best.safetensors" \
          --alpha 0.7 --out "runs/real-${size}/interpolated.safetensors"
      fi ;;
    # the shipped 15K: the real-camera 15K distilled from the shipped 80K (fruit + hint),
    # the checkpoint with the best validation accuracy
    real-15k-kd)
      mkdir -p runs
      kufenet train --model kufenet-15k --dataset jacquard:datasets/synth-real2 --train-split train \
        --val-split val --batch-size 8 --batches-per-epoch 200 --val-batches 21 --threads 1 \
        --no-progress --zoom-range 0.8,1.25 --window-m 0.5 --support-plane --depth stereo \
        --label-margin-m 0.02 --lr 2e-4 --epochs 5 --seed 14 \
        --init runs/real-15k/best.safetensors --teacher runs/real-80k/interpolated.safetensors \
        --kd fruit+hint --out runs/real-15k-kd > runs/real-15k-kd.log 2>&1 ;;
    # the shipped 80K: the interpolated 80K with its 3x3 output conv replaced by a 1x1 conv
    # fitted to its own maps on 240 training scenes
    real-80k-head)
      [[ -d datasets/refit-train/train ]] || kufenet datagen --out datasets/refit-train \
        --scenes 240 --seed 31 --workers 1 --split-only train
      kufenet refit-head runs/real-80k/interpolated.safetensors --dataset jacquard:datasets/refit-train \
        --depth stereo --images 240 --out runs/real-80k/head-refit.safetensors ;;
    *) echo "unknown step $1" >&2; exit 2 ;;
  esac
}

if [[ $# -eq 0 ]]; then
  set -- data 80k 15k 263k 80k-kd 80k-zoom ggcnn grconvnet 80k-8ep
fi
for s in "$@"; do step "$s"; done
