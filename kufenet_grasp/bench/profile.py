# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Which operators and layers cost CPU time in one model, via ``torch.profiler``.

Used to decide optimisations: run a few inferences of the BatchNorm-folded eval model on a
(1,4,S,S) frame and rank operators (and, with ``by_module``, the model's own submodules) by
self CPU time.
"""

from __future__ import annotations

from dataclasses import dataclass

from kufenet_grasp.deploy.export import check_input_size
from kufenet_grasp.deploy.fuse import fold_batchnorm
from kufenet_grasp.deploy.source import resolve_source, Source
from torch import nn
from torch.utils.hooks import RemovableHandle


@dataclass
class OpCost:
    """One row of a profile: ``name``, total self CPU time (ms) over the runs, call count."""

    name: str
    self_cpu_ms: float
    calls: int
    share: float  # fraction of all self CPU time


def profile_model(source: Source | nn.Module, *, input_size: int = 224, threads: int = 2,
                  runs: int = 10, warmup: int = 3, top: int = 15,
                  by_module: bool = False) -> list[OpCost]:
    """Top ``top`` operators (or submodules with ``by_module``) by self CPU time.

    Times are summed over ``runs`` inferences of a (1,4,input_size,input_size) frame after
    ``warmup`` un-profiled ones, with ``threads`` intra-op threads.
    """
    import torch
    from torch.profiler import profile, ProfilerActivity, record_function

    input_size = check_input_size(input_size)
    if runs < 1 or top < 1:
        raise ValueError(f'runs and top must be >= 1, got runs={runs}, top={top}')
    torch.set_num_threads(threads)
    model = fold_batchnorm(resolve_source(source).model)
    x = torch.randn(1, 4, input_size, input_size)
    handles = []
    if by_module:
        for name, module in model.named_modules():
            if name and not list(module.children()):
                handles.append(_label(module, name, record_function))
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(runs):
                model(x)
    for handle in handles:
        handle.remove()
    events = prof.key_averages()
    if by_module:
        rows = [(e.key[7:], e.cpu_time_total, e.count) for e in events
                if e.key.startswith('module:')]
    else:
        rows = [(e.key, e.self_cpu_time_total, e.count) for e in events
                if not e.key.startswith('module:')]
    total = sum(t for _, t, _ in rows) or 1.0
    rows.sort(key=lambda row: row[1], reverse=True)
    return [OpCost(name, t / 1000.0, count, t / total) for name, t, count in rows[:top]]


class _Handle:
    """Removes the two hooks that label one module in the profile."""

    def __init__(self, *hooks: RemovableHandle) -> None:
        self._hooks = hooks

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()


def _label(module: nn.Module, name: str, record_function: type) -> _Handle:
    """Wrap ``module``'s forward in a ``record_function('module:<name>')`` range."""
    contexts: list = []

    def enter(_module: nn.Module, _inputs: tuple) -> None:
        context = record_function(f'module:{name}:{type(_module).__name__}')
        context.__enter__()
        contexts.append(context)

    def leave(_module: nn.Module, _inputs: tuple, _output: object) -> None:
        contexts.pop().__exit__(None, None, None)

    return _Handle(module.register_forward_pre_hook(enter), module.register_forward_hook(leave))


def format_profile(rows: list[OpCost], runs: int) -> str:
    """Plain-text table of ``rows``: per-run milliseconds, share and calls per run."""
    lines = [f"{'operator / layer':<80} {'ms/run':>8} {'share':>6} {'calls':>6}"]
    for row in rows:
        lines.append(f'{row.name[:80]:<80} {row.self_cpu_ms / runs:8.3f} '
                     f'{100 * row.share:5.1f}% {row.calls // runs:6d}')
    return '\n'.join(lines)
