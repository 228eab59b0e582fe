# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""PyBullet simulation (no ROS): the synthetic grasp dataset and reusable scene pieces.

Modules: ``assets`` (object catalogue of three families, splits, colours/textures),
``shapes`` (procedural household objects from primitives), ``camera`` (intrinsics, poses,
TinyRenderer rendering with metric z-depth, lighting), ``depth_noise`` (active-stereo sensor
noise), ``structured_light`` (Kinect v1 sensor noise), ``depth_sensors`` (the sensor a scene
draws), ``rgb_noise`` (exposure, blur, sensor noise), ``scene`` (tabletop/tray
scenes, settling), ``gripper`` (free-floating parallel-jaw gripper and ``try_grasp``),
``labelling`` (physics-checked image grasps), ``datagen`` (parallel, resumable dataset
writer) and ``label_quality`` (label re-execution).
"""
