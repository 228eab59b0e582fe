# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""ROS-free runtime helpers of the nodes: frame sync, image decoding, a latest-frame worker.

Modules: ``frame_sync`` (approximate-time matching of colour, depth and camera info),
``image_encoding`` (sensor_msgs/Image fields to and from numpy, duck-typed),
``latest_worker`` (a queue of one and a worker thread, so a slow consumer drops stale frames)
and ``parameter_table`` (declarative parameter rows with ranges and choices, and their check).
"""
