"""Camera-to-base transform for the detector: tf2 when installed, else a static mount.

Order of preference:
1. a static mount given explicitly (parameters ``static_transform.*`` or a calibration YAML),
   because the user asked for it;
2. a tf2_ros Buffer/TransformListener lookup at the image stamp (when tf2_ros imports);
3. none: poses stay in the camera optical frame (the caller warns).

Transforms are T_base_camera (maps points in the optical frame to the base frame, metres).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kufenet_grasp.geometry.transforms import RigidTransform


class TransformUnavailable(RuntimeError):
    """No camera-to-base transform could be found for a frame (the message says why)."""


@dataclass(frozen=True)
class StaticCameraMount:
    """A fixed T_base_camera; ``camera_frame`` empty means "whatever the image header says"."""

    transform: RigidTransform
    base_frame: str
    camera_frame: str = ""


class CameraToBase:
    """Looks up T_base_camera for an image's optical frame and stamp."""

    def __init__(self, node: Any, base_frame: str, static: StaticCameraMount | None = None,
                 timeout_s: float = 0.1, use_tf: bool = True) -> None:
        self.base_frame = base_frame
        self._static = static
        self._timeout_s = float(timeout_s)
        self._buffer = None
        self._listener = None
        if static is None and use_tf:
            try:
                from tf2_ros import Buffer, TransformListener
            except ImportError:
                pass
            else:
                self._buffer = Buffer()
                self._listener = TransformListener(self._buffer, node)

    @property
    def mode(self) -> str:
        """``'static'``, ``'tf2'`` or ``'none'``."""
        if self._static is not None:
            return "static"
        return "tf2" if self._buffer is not None else "none"

    def lookup(self, camera_frame: str, stamp: Any) -> RigidTransform | None:
        """T_base_camera at ``stamp`` (builtin_interfaces/Time), or None in mode ``'none'``.

        Raises:
            TransformUnavailable: tf2 has no transform within the timeout, or the static
                mount is for a different camera frame.

        """
        if self._static is not None:
            mount = self._static
            if mount.camera_frame and mount.camera_frame != camera_frame:
                raise TransformUnavailable(
                    f"static camera mount is for frame '{mount.camera_frame}' but the image is "
                    f"in '{camera_frame}'; fix the calibration file's child_frame")
            return mount.transform
        if self._buffer is None:
            return None
        return self._lookup_tf(camera_frame, stamp)

    def _lookup_tf(self, camera_frame: str, stamp: Any) -> RigidTransform:
        from rclpy.duration import Duration
        from rclpy.time import Time

        from kufenet_grasp.nodes.ros_conversions import pose_to_transform

        try:
            msg = self._buffer.lookup_transform(self.base_frame, camera_frame,
                                                Time.from_msg(stamp),
                                                timeout=Duration(seconds=self._timeout_s))
        except Exception as exc:  # tf2 raises several exception types: report them all
            raise TransformUnavailable(
                f"no transform {self.base_frame} <- {camera_frame} at the image stamp within "
                f"{self._timeout_s:.2f} s: {exc}") from exc
        return pose_to_transform(msg.transform)

    def close(self) -> None:
        """Stop listening to /tf (the listener's subscriptions are destroyed)."""
        if self._listener is not None:
            unregister = getattr(self._listener, "unregister", None)
            if unregister is not None:
                unregister()
        self._listener = None
        self._buffer = None
