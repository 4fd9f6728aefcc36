#!/usr/bin/env bash
# Regenerates the published tables and plots under results/ (each folder records the command,
# config, revision and machine that made it). Takes a few minutes on 2 quiet cores. The sweeps
# start from scratch: kept cells of an earlier revision would otherwise be reused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=1
bin=build/clusteralloc
$bin run --config configs/hillstrom.json --out results/hillstrom --quiet
$bin run --config configs/synthetic.json --out results/synthetic --quiet
$bin compare --config configs/compare_hillstrom.json --out results/compare_hillstrom --quiet
$bin compare --config configs/compare_synthetic.json --out results/compare_synthetic --quiet
rm -rf results/sweep_k_noise results/sweep_hidden
$bin sweep --config configs/sweep_k_noise.json --out results/sweep_k_noise --quiet
$bin sweep --config configs/sweep_hidden.json --out results/sweep_hidden --quiet
