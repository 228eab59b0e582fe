# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera-to-base transform for the detector: tf2 when installed, else a static mount.

Order of preference:
1. a static mount given explicitly (parameters ``static_transform.*`` or a calibration YAML),
   because the user asked for it;
2. a tf2_ros Buffer/TransformListener lookup at the image stamp (when tf2_ros imports). The
   listener lives on a private node ``<detector name>_tf`` spun by its own thread, so /tf keeps
   arriving while the detector's single-threaded executor is busy in a callback (a
   ``DetectGrasps`` call that detects on a new frame waits for its transform there);
3. none: poses stay in the camera optical frame (the caller warns).

Transforms are T_base_camera (maps points in the optical frame to the base frame, metres).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kufenet_grasp.geometry.transforms import RigidTransform
from kufenet_grasp.nodes.ros_conversions import pose_to_transform


class TransformUnavailable(RuntimeError):
    """No camera-to-base transform could be found for a frame (the message says why)."""


@dataclass(frozen=True)
class StaticCameraMount:
    """A fixed T_base_camera; ``camera_frame`` empty means "whatever the image header says"."""

    transform: RigidTransform
    base_frame: str
    camera_frame: str = ''


class CameraToBase:
    """Looks up T_base_camera for an image's optical frame and stamp."""

    def __init__(self, node: Any, base_frame: str, static: StaticCameraMount | None = None,
                 timeout_s: float = 0.1, use_tf: bool = True) -> None:
        self.base_frame = base_frame
        self._static = static
        self._timeout_s = float(timeout_s)
        self._buffer = None
        self._listener = None
        self._tf_node = None
        if static is None and use_tf:
            try:
                from tf2_ros import Buffer, TransformListener
            except ImportError:
                pass
            else:
                self._tf_node = _listener_node(node)
                self._buffer = Buffer()
                self._listener = TransformListener(self._buffer, self._tf_node,
                                                   spin_thread=True)

    @property
    def mode(self) -> str:
        """``'static'``, ``'tf2'`` or ``'none'``."""
        if self._static is not None:
            return 'static'
        return 'tf2' if self._buffer is not None else 'none'

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
        return self._lookup_tf(self._buffer, camera_frame, stamp)

    def _lookup_tf(self, buffer: Any, camera_frame: str, stamp: Any) -> RigidTransform:
        """T_base_camera from the tf2 ``buffer``."""
        from rclpy.duration import Duration
        from rclpy.time import Time

        try:
            msg = buffer.lookup_transform(self.base_frame, camera_frame, Time.from_msg(stamp),
                                          timeout=Duration(seconds=self._timeout_s))
        except Exception as exc:  # tf2 raises several exception types: report them all
            raise TransformUnavailable(
                f'no transform {self.base_frame} <- {camera_frame} at the image stamp within '
                f'{self._timeout_s:.2f} s: {exc}') from exc
        return pose_to_transform(msg.transform)

    def close(self) -> None:
        """Stop listening to /tf: stop the listener's thread and destroy its node."""
        if self._listener is not None:
            executor = getattr(self._listener, 'executor', None)
            if executor is not None:
                executor.shutdown()
            thread = getattr(self._listener, 'dedicated_listener_thread', None)
            if thread is not None:
                thread.join(timeout=2.0)
        if self._tf_node is not None:
            self._tf_node.destroy_node()
        self._listener = None
        self._buffer = None
        self._tf_node = None


def _listener_node(node: Any) -> Any:
    """Return a node for the tf listener beside ``node``: same namespace and context, name + '_tf'.

    The process's global arguments still apply (a ``/tf`` remapping reaches it); a local
    ``__node`` rule overrides a global one, so it never takes the detector's own name.
    """
    import rclpy

    name = f'{node.get_name()}_tf'
    return rclpy.create_node(name, namespace=node.get_namespace(), context=node.context,
                             cli_args=['--ros-args', '-r', f'__node:={name}'],
                             start_parameter_services=False)
