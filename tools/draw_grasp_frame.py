# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Draw docs/grasp_frame.png: the image rectangle convention and the 3D grasp frame.

Run: ``python tools/draw_grasp_frame.py [OUT.png]`` (matplotlib, no ROS).
"""

from __future__ import annotations

import math
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def draw_image_view(ax) -> None:
    """Left panel: a grasp rectangle in image pixels with its angle convention."""
    ax.set_title('Image (pixels): GraspRectangle')
    ax.set_xlim(0, 200)
    ax.set_ylim(160, 0)  # y down, as the image is displayed
    ax.set_aspect('equal')
    ax.set_xlabel('x (column) →')
    ax.set_ylabel('y (row) ↓')
    cx, cy, a, opening, jaw = 100.0, 80.0, math.radians(30), 90.0, 40.0
    d = np.array([math.cos(a), -math.sin(a)])  # closing axis in (x right, y down)
    n = np.array([math.sin(a), math.cos(a)])  # jaw axis
    c = np.array([cx, cy])
    corners = [c - d * opening / 2 - n * jaw / 2, c + d * opening / 2 - n * jaw / 2,
               c + d * opening / 2 + n * jaw / 2, c - d * opening / 2 + n * jaw / 2]
    for i in range(4):
        p, q = corners[i], corners[(i + 1) % 4]
        jaw_edge = i in (1, 3)
        ax.plot([p[0], q[0]], [p[1], q[1]], color='tab:red' if jaw_edge else 'tab:green',
                lw=4 if jaw_edge else 1.5)
    ax.annotate('', xy=c + d * 55, xytext=c,
                arrowprops={'arrowstyle': '->', 'color': 'tab:blue', 'lw': 2})
    ax.plot([cx, cx + 60], [cy, cy], 'k--', lw=1)
    arc = np.linspace(0, a, 20)
    ax.plot(cx + 35 * np.cos(arc), cy - 35 * np.sin(arc), 'k', lw=1)
    ax.text(cx + 38, cy - 8, 'angle θ (CCW as displayed,\n[-π/2, π/2))', fontsize=7)
    ax.text(c[0] + d[0] * 58, c[1] + d[1] * 58 - 4, 'closing axis = grasp y', color='tab:blue',
            fontsize=8)
    ax.text(10, 150, 'green: opening_px (finger travel)   red: jaw_px (fingers)', fontsize=7)
    ax.plot(cx, cy, 'ko')
    ax.text(cx - 30, cy + 14, '(center_x, center_y)', fontsize=7)


def draw_3d_view(ax) -> None:
    """Right panel: the grasp frame at the object, seen from the side."""
    ax.set_title('Grasp frame (metres): z approach, y closing')
    ax.set_xlim(-0.08, 0.08)
    ax.set_ylim(-0.08, 0.08)
    ax.set_zlim(-0.02, 0.14)
    # object
    xs, ys, zs = np.meshgrid([-0.02, 0.02], [-0.025, 0.025], [0.0, 0.04])
    ax.scatter(xs, ys, zs, color='0.6', s=4)
    # fingers along y, approaching along -Z world (= +z grasp)
    for s in (-1, 1):
        y = s * 0.035
        ax.plot([0, 0], [y, y], [0.02, 0.08], color='tab:red', lw=5)
    ax.plot([0, 0], [-0.035, 0.035], [0.08, 0.08], color='k', lw=3)
    ax.plot([0, 0], [0, 0], [0.08, 0.12], color='k', lw=3)
    origin = np.array([0.0, 0.0, 0.02])
    axes = {'x': ([-0.05, 0, 0], 'tab:red'), 'y': ([0, 0.05, 0], 'tab:green'),
            'z': ([0, 0, -0.05], 'tab:blue')}
    for name, (vec, colour) in axes.items():
        ax.quiver(*origin, *vec, color=colour, lw=2)
        ax.text(*(origin + np.array(vec) * 1.15), f'{name}', color=colour, fontsize=10)
    ax.text(0.0, -0.08, 0.13, 'camera above, optical axis = approach z', fontsize=7)
    ax.text(0.0, 0.02, -0.02, 'origin: between the fingertips', fontsize=7)
    ax.set_xlabel('x = y × z')
    ax.set_ylabel('y closing')
    ax.set_zlabel('up')


def main(out: str = 'docs/grasp_frame.png') -> int:
    """Write the figure to ``out``."""
    fig = plt.figure(figsize=(11, 4.5))
    draw_image_view(fig.add_subplot(1, 2, 1))
    draw_3d_view(fig.add_subplot(1, 2, 2, projection='3d'))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
