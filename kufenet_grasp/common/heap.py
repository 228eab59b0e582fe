# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Give freed heap memory back to the operating system (glibc's ``malloc_trim``).

glibc keeps memory freed inside its heaps for reuse, so a process that allocated a lot while
starting up (imports, compiling and warming up a model) keeps that much resident. One call
after start-up returns the free pages; it costs a few milliseconds and changes no data.
"""

import ctypes


def trim_heap() -> bool:
    """Return free heap pages to the OS; False where the C library has no malloc_trim."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return False
    return bool(trim(0))
