# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Where one frame's time goes inside grasp_detector (see kufenet_grasp.bench.frame_profile).

Run (after ``. ./env.sh``)::

    python tools/profile_frame.py --gaps-ms 0,33,200 --frames 200 [--cprofile 25]
"""

import sys

from kufenet_grasp.bench.frame_profile import main

if __name__ == '__main__':
    sys.exit(main())
