# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Test-session settings shared by every test.

Tests that start rclpy nodes talk over DDS: each pytest run gets its own ROS domain and
keeps discovery on this host, so two runs (or a demo left running) never hear each other.
"""

import os
import random

if 'KUFENET_TEST_DOMAIN_SET' not in os.environ:
    os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 100))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['KUFENET_TEST_DOMAIN_SET'] = '1'
# Two cores are shared by the whole suite: keep math libraries from oversubscribing them.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')
