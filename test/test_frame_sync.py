# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Approximate-time synchronisation of colour, depth and info with newest-frame delivery."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from kufenet_grasp.runtime.frame_sync import ApproximateFrameSync, stamp_seconds
import pytest


def msg(t: float, name: str = ''):
    sec = int(t)
    return SimpleNamespace(name=name, header=SimpleNamespace(
        stamp=SimpleNamespace(sec=sec, nanosec=round((t - sec) * 1e9))))


def feed(sync, t, dt_depth=0.0, dt_info=0.0):
    sync.add_color(msg(t, f'c{t}'))
    sync.add_depth(msg(t + dt_depth, f'd{t}'))
    sync.add_info(msg(t + dt_info, f'i{t}'))


def test_stamp_seconds():
    assert stamp_seconds(msg(12.25)) == pytest.approx(12.25)
    with pytest.raises(ValueError, match='header.stamp'):
        stamp_seconds(object())


def test_matches_within_slop_only():
    got = []
    sync = ApproximateFrameSync(0.02, got.append)
    feed(sync, 1.0, dt_depth=0.01, dt_info=0.0)
    assert [t.color.name for t in got] == ['c1.0']
    assert got[0].stamp == pytest.approx(1.0)
    feed(sync, 2.0, dt_depth=0.05)  # depth too far from colour: no match
    assert len(got) == 1
    sync.add_color(msg(2.05, 'c2b'))  # newer colour and info catch up: now they match
    assert len(got) == 1
    sync.add_info(msg(2.05, 'i2b'))
    assert [(t.color.name, t.depth.name) for t in got] == [('c1.0', 'd1.0'), ('c2b', 'd2.0')]


def test_slow_poller_gets_newest_frame_and_drops_are_counted():
    sync = ApproximateFrameSync(0.01)
    for t in (1.0, 1.1, 1.2, 1.3):
        feed(sync, t)
    triple = sync.take_latest()
    assert triple.color.name == 'c1.3' and triple.depth.name == 'd1.3'
    assert sync.take_latest() is None
    stats = sync.stats
    assert (stats.matched, stats.delivered, stats.dropped_frames) == (4, 1, 3)


def test_only_newest_message_per_stream_is_kept():
    sync = ApproximateFrameSync(0.01)
    for t in (1.0, 1.1, 1.2):
        sync.add_color(msg(t, f'c{t}'))
    sync.add_depth(msg(1.2, 'd'))
    sync.add_info(msg(1.2, 'i'))
    assert sync.take_latest().color.name == 'c1.2'
    assert sync.stats.dropped_messages == 2
    # a message older than the last matched frame is ignored
    sync.add_color(msg(1.0, 'late'))
    sync.add_depth(msg(1.0, 'late'))
    sync.add_info(msg(1.0, 'late'))
    assert sync.take_latest() is None


def test_busy_callback_receives_the_newest_frame_next():
    sync = ApproximateFrameSync(0.01)
    entered, release = threading.Event(), threading.Event()
    names = []

    def slow(triple):
        names.append(triple.color.name)
        if len(names) == 1:
            entered.set()
            assert release.wait(5.0)

    sync._callback = slow
    worker = threading.Thread(target=feed, args=(sync, 1.0))
    worker.start()
    assert entered.wait(5.0)
    for t in (1.1, 1.2, 1.3):  # arrive while the consumer is busy: return immediately
        feed(sync, t)
    assert names == ['c1.0']
    release.set()
    worker.join(5.0)
    assert names == ['c1.0', 'c1.3']
    assert sync.stats.dropped_frames == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match='slop_s'):
        ApproximateFrameSync(-1.0)
    with pytest.raises(ValueError, match='stream'):
        ApproximateFrameSync().add('ir', msg(1.0))


def test_concurrent_streams_keep_counters_consistent():
    got = []
    sync = ApproximateFrameSync(0.004, got.append)
    stamps = [1.0 + 0.01 * i for i in range(300)]
    threads = [threading.Thread(target=lambda s=s: [sync.add(s, msg(t, s)) for t in stamps])
               for s in ('color', 'depth', 'info')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)
    stats = sync.stats
    assert stats.received == 900
    assert stats.matched >= 1 and stats.delivered == len(got)
    assert stats.delivered + stats.dropped_frames == stats.matched  # slot empty at the end
    assert [t.stamp for t in got] == sorted(t.stamp for t in got)  # never goes back in time
    assert all(abs(t.color.header.stamp.sec + t.color.header.stamp.nanosec * 1e-9
                   - stamp_seconds(t.depth)) <= 0.004 + 1e-9 for t in got)
