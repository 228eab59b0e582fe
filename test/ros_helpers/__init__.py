"""Helpers for tests that run real rclpy nodes."""
