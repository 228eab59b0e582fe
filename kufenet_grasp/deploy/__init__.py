# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Deployment of a trained model: BatchNorm folding, ONNX / OpenVINO export, inference backends.

Modules: ``source`` (a weights file or preset to a model), ``fuse`` (BatchNorm folding),
``upsample_rewrite`` (bias of depth-wise transposed convolutions in its own layer),
``export`` (ONNX and OpenVINO files with metadata) and ``backends`` (PyTorch, ONNX Runtime and
OpenVINO behind one ``infer`` interface). Measurement is in ``kufenet_grasp.bench``.
"""
