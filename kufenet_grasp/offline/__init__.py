"""The grasp detector on recorded data without a ROS graph: image files and rosbag2 bags."""
