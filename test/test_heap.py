# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""common.heap.trim_heap returns freed heap memory to the operating system."""

import platform

from kufenet_grasp.bench.memory import rss_mib
from kufenet_grasp.common.heap import trim_heap
import numpy as np
import pytest


@pytest.mark.skipif(platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
                    reason='malloc_trim is glibc')
def test_freed_heap_memory_goes_back_after_a_trim() -> None:
    # 64 MiB in 64 KiB blocks (under the mmap threshold: from the heap), one kept at the top so
    # free() alone cannot shrink the heap
    blocks = [np.ones(16 * 1024, np.float32) for _ in range(1024)]
    keep = np.ones(16 * 1024, np.float32)
    del blocks
    before = rss_mib()
    assert trim_heap() is True
    assert before - rss_mib() > 32.0, before
    assert keep.sum() == 16 * 1024  # still valid
