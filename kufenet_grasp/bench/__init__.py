# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Measurement: model latency, inference backends, detector stages, memory, the node over DDS.

Modules: ``model_latency`` (one forward pass in PyTorch), ``inference`` (latency of every
inference backend, ``kufenet bench``), ``stages`` (the detector's steps on a synthetic frame),
``profile`` (operator profile), ``memory`` (peak resident memory), ``frame_profile`` (the
node's per-frame work without DDS), ``node_latency`` (end-to-end statistics) and
``node_bench`` (drives a running ``grasp_detector`` over DDS, ``kufenet bench-node``).
"""
