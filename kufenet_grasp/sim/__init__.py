"""PyBullet simulation (no ROS): the synthetic grasp dataset and reusable scene pieces.

Modules: ``assets`` (object catalogue, splits, colours/textures), ``camera`` (intrinsics,
poses, TinyRenderer rendering with metric z-depth, lighting), ``depth_noise`` (active-stereo
sensor noise), ``rgb_noise`` (exposure, blur, sensor noise), ``scene`` (tabletop/tray
scenes, settling), ``gripper`` (free-floating parallel-jaw gripper and ``try_grasp``),
``labelling`` (physics-checked image grasps), ``datagen`` (parallel, resumable dataset
writer) and ``label_quality`` (label re-execution).
"""
