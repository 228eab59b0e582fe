# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Bring up KufeNet grasp detection: grasp_detector, optionally grasp_executor, sim_world, RViz.

Example (RealSense, depth aligned to colour)::

    ros2 launch kufenet_grasp grasp_pipeline.launch.py \
        config_file:=<share>/config/presets/realsense_d435.yaml camera_namespace:=/camera/camera \
        depth_topic:=aligned_depth_to_color/image_raw
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'kufenet_grasp'

ARGUMENTS = [
    ('namespace', '', "namespace of the pipeline's nodes (e.g. arm2: topics /arm2/kufenet/...)"),
    ('camera_namespace', 'camera/camera',
     "namespace of the camera driver's topics (realsense2_camera: camera/camera)"),
    ('color_topic', 'color/image_raw', 'colour image topic, relative to camera_namespace'),
    ('depth_topic', 'aligned_depth_to_color/image_raw',
     'depth image topic aligned to colour, relative to camera_namespace'),
    ('info_topic', 'color/camera_info', 'colour camera_info topic, relative to camera_namespace'),
    ('config_file', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'detector.yaml']),
     'grasp_detector parameter file (presets: config/presets/*.yaml)'),
    ('executor_config_file',
     PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'executor.yaml']),
     'grasp_executor parameter file'),
    ('base_frame', 'base_link',
     'frame of the published grasp poses (REP-105); overrides the config file'),
    ('weights', '', ('weights file or preset name, overrides the config file; empty = the '
                     'shipped kufenet-80k weights')),
    ('use_executor', 'false', 'also start grasp_executor (pick and place action server)'),
    ('use_sim', 'false', 'also start sim_world (PyBullet scene publishing a camera)'),
    ('use_rviz', 'false', 'also start RViz with config/kufenet.rviz'),
    ('use_sim_time', 'false', 'use /clock (simulation time) in every node'),
    ('log_level', 'info', 'logging level of the nodes'),
]


def generate_launch_description() -> LaunchDescription:
    """Return the pipeline: every argument declared up front, behaviour in the YAML config."""
    cfg = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    common = {'use_sim_time': cfg['use_sim_time']}
    camera = cfg['camera_namespace']
    remappings = [
        ('color/image_raw', [camera, '/', cfg['color_topic']]),
        ('depth/image_raw', [camera, '/', cfg['depth_topic']]),
        ('color/camera_info', [camera, '/', cfg['info_topic']]),
    ]
    log_args = ['--ros-args', '--log-level', cfg['log_level']]
    detector = Node(
        package=PACKAGE, executable='grasp_detector', name='grasp_detector',
        namespace=cfg['namespace'], output='screen', arguments=log_args,
        parameters=[cfg['config_file'], common,
                    {'base_frame': cfg['base_frame'], 'weights': cfg['weights'],
                     'autostart': True}],
        remappings=remappings)
    executor = Node(
        package=PACKAGE, executable='grasp_executor', name='grasp_executor',
        namespace=cfg['namespace'], output='screen', arguments=log_args,
        parameters=[cfg['executor_config_file'], common, {'base_frame': cfg['base_frame']}],
        condition=IfCondition(cfg['use_executor']))
    sim = Node(
        package=PACKAGE, executable='sim_world', name='sim_world',
        namespace=cfg['namespace'], output='screen', arguments=log_args,
        parameters=[common], remappings=remappings, condition=IfCondition(cfg['use_sim']))
    rviz_config = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'kufenet.rviz'])
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', output='log',
        arguments=['-d', rviz_config],
        parameters=[common], condition=IfCondition(cfg['use_rviz']))
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS]
    return LaunchDescription([*declared, detector, executor, sim, rviz])
