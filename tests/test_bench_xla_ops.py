"""bench/xla_ops.py's reading of a profiler trace: exclusive times per operation (a loop's
time without the operations of its body), per thread, with the executor's and Python's own
spans left out. A synthetic trace, so no profiler run is needed."""

import gzip
import json


def _span(name, ts, dur, tid=1):
    return {"ph": "X", "name": name, "pid": 7, "tid": tid, "ts": ts, "dur": dur}


def test_op_times_are_exclusive_per_thread(tmp_path, bench_script):
    events = [
        _span("ThunkExecutor::Execute", 0, 500),  # the executor's span: not an operation
        _span("$env.py:12 step", 0, 500),  # a Python frame
        _span("while.1", 0, 100),
        _span("body_fusion", 10, 30),  # nested in while.1
        _span("inner_fusion", 15, 10),  # nested in body_fusion, not directly in while.1
        _span("body_fusion", 50, 10),  # nested in while.1, a second run
        _span("after_fusion", 120, 10),  # after while.1 ended
        _span("other_thread", 20, 180, tid=2),  # overlaps while.1 in time, on another thread
        {"ph": "i", "name": "instant", "pid": 7, "tid": 1, "ts": 5},  # not a complete event
    ]
    path = tmp_path / "t.trace.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"traceEvents": events}, f)
    times = bench_script("xla_ops").op_times(str(path))
    assert {n: t for n, t in times.items() if isinstance(n, str)} == {
        "while.1": 100 - 30 - 10,  # its direct children only
        "body_fusion": (30 - 10) + 10,
        "inner_fusion": 10,
        "after_fusion": 10,
        "other_thread": 180,
    }
    assert times[("body_fusion", "count")] == 2
    assert times[("while.1", "count")] == 1
    assert ("ThunkExecutor::Execute", "count") not in times
