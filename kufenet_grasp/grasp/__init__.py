# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The grasp rectangle and the maps a network predicts (no ROS).

Modules: ``rectangle`` (the grasp rectangle type), ``labels`` (Cornell and Jacquard label
lines), ``maps`` (labels rasterised into quality/angle/width maps), ``postprocess`` (maps to
ranked grasps), ``metric`` (the rectangle metric), ``preprocess`` and ``model_input`` (crop,
resize, normalise into the network input) and ``drawing`` (rectangles on an image).
"""
