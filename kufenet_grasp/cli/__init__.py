# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ``kufenet`` command line: ``main`` dispatches to one thin module per subcommand.

Each subcommand module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``
and calls into the layers below; none holds an algorithm.
"""
