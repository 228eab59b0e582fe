"""Pick-and-place execution: the stage sequence, checks and motion backends (no ROS)."""
