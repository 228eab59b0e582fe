# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Simulation pipeline: sim_world (PyBullet Panda + camera, hosting grasp_executor) + detector.

Mirrors ``kufenet demo`` (kufenet_grasp/demo/run_demo.py), which runs the same three nodes in
one process with the same parameter files: config/detector.yaml, config/executor.yaml and
config/sim_world.yaml (loaded last: it holds the simulation's overrides for all three nodes).
The grasp_executor runs inside the sim_world process because its motion backend is the
simulated arm. Example::

    ros2 launch kufenet_grasp sim_pipeline.launch.py scene_type:=clutter use_rviz:=true
    ros2 action send_goal /kufenet/pick_and_place kufenet_msgs/action/PickAndPlace "{}"
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'kufenet_grasp'

ARGUMENTS = [
    ('namespace', '', "namespace of the pipeline's nodes (e.g. sim: topics /sim/kufenet/...)"),
    ('config_file', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'detector.yaml']),
     'parameter file of grasp_detector'),
    ('executor_config', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config',
                                              'executor.yaml']),
     'parameter file of grasp_executor'),
    ('sim_config', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'sim_world.yaml']),
     "simulation parameter file (sim_world + the simulation's detector/executor overrides)"),
    ('weights', '', 'detector weights file or preset; empty = the shipped kufenet-80k weights'),
    ('scene_type', 'single', 'single: one object per scene; clutter: clutter_count objects'),
    ('clutter_count', '5', 'objects in a clutter scene'),
    ('seed', '0', 'seed of the scenes'),
    ('use_sim_time', 'true', 'sim_world publishes /clock and every node uses simulation time'),
    ('use_rviz', 'false', 'also start RViz with config/kufenet.rviz'),
    ('log_level', 'info', 'logging level of the nodes'),
]


def generate_launch_description() -> LaunchDescription:
    """sim_world (with the executor) + grasp_detector; every argument declared up front."""
    cfg = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    common = {'use_sim_time': ParameterValue(cfg['use_sim_time'], value_type=bool)}
    log_args = ['--ros-args', '--log-level', cfg['log_level']]
    sim = Node(
        package=PACKAGE, executable='sim_world', name='sim_world',
        namespace=cfg['namespace'], output='screen', arguments=log_args,
        parameters=[cfg['executor_config'], cfg['sim_config'], common,
                    {'publish_clock': ParameterValue(cfg['use_sim_time'], value_type=bool),
                     'scene_type': cfg['scene_type'],
                     'clutter_count': ParameterValue(cfg['clutter_count'], value_type=int),
                     'seed': ParameterValue(cfg['seed'], value_type=int),
                     'host_executor': True}])
    detector = Node(
        package=PACKAGE, executable='grasp_detector', name='grasp_detector',
        namespace=cfg['namespace'], output='screen', arguments=log_args,
        parameters=[cfg['config_file'], cfg['sim_config'], common,
                    {'weights': cfg['weights'], 'autostart': True}])
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2', output='log',
        arguments=['-d', PathJoinSubstitution(
            [FindPackageShare(PACKAGE), 'config', 'kufenet.rviz'])],
        parameters=[common], condition=IfCondition(cfg['use_rviz']))
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS]
    return LaunchDescription([*declared, sim, detector, rviz])
