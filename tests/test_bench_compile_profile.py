"""bench/compile_profile.py's readings: XLA:CPU's stages from the compiler's trace spans, exclusive
span times, and the census of an optimized HLO text with its stack frames. Synthetic inputs,
so no compile or profiler run is needed."""

import pytest


@pytest.fixture(scope="module")
def cp(bench_script):
    return bench_script("compile_profile")


def _span(name, ts, dur, tid=1):
    return {"ph": "X", "name": name, "pid": 3, "tid": tid, "ts": ts, "dur": dur}


def test_stage_times_count_outer_spans_once_and_leave_missing_ones_none(cp):
    events = [
        _span("PjRtCpuClient::Compile", 0, 10_000_000),
        _span("HLO passes through layout assignment (jit_rollout)", 100, 2_000_000),
        # the same stage nested in itself: counted once, as its outer span
        _span("HLO passes through layout assignment (jit_rollout)", 200, 1_000_000),
        _span("ThunkEmitter::EmitEntryComputation", 3_000_000, 3_000_000),
        _span("FusionCompiler::Compile", 3_100_000, 10),
        _span("FusionCompiler::Compile", 3_200_000, 10),
        _span("FusionCompiler::Compile", 3_300_000, 10, tid=2),
        _span("JitCompiler::Compile", 6_000_000, 4_000_000),
        {"ph": "i", "name": "JitCompiler::Compile", "pid": 3, "tid": 1, "ts": 1},  # not a complete span
    ]
    stages = cp.stage_times(events)
    assert stages["HLO passes, up to layout assignment"] == pytest.approx(2.0)
    assert stages["HLO passes, after layout assignment"] is None
    assert stages["kernels emitted (fusions to LLVM IR)"] == pytest.approx(3.0)
    assert stages["LLVM, IR to machine code"] == pytest.approx(4.0)
    assert stages["total"] == pytest.approx(10.0)
    assert stages["other"] == pytest.approx(1.0)
    assert stages["kernels"] == 3


def test_stage_times_without_a_total_span_have_no_other(cp):
    stages = cp.stage_times([_span("JitCompiler::Compile", 0, 5)])
    assert stages["total"] is None and stages["other"] is None


def test_exclusive_times_subtract_nested_spans_on_the_same_thread_only(cp):
    events = [
        _span("outer", 0, 1_000_000),
        _span("inner", 100, 400_000),
        _span("$env.py:3 step", 100, 900_000),  # a Python frame: left out
        _span("elsewhere", 100, 700_000, tid=2),
    ]
    times = cp.exclusive_times(events)
    assert times["outer"] == pytest.approx(0.6)
    assert times["inner"] == pytest.approx(0.4)
    assert times["elsewhere"] == pytest.approx(0.7)
    assert "$env.py:3 step" not in times


HLO = """\
HloModule jit_rollout, is_scheduled=true

FileNames
1 "/tmp/pkg/env.py"
2 "/work/bench/harness.py"

FunctionNames
1 "rollout"
2 "_select.<locals>.<lambda>"
3 "body"

FileLocations
1 {file_name_id=1 function_name_id=1 line=10 end_line=10 column=1 end_column=2}
2 {file_name_id=1 function_name_id=2 line=20 end_line=20 column=1 end_column=2}
3 {file_name_id=2 function_name_id=3 line=5 end_line=5 column=1 end_column=2}

StackFrames
1 {file_location_id=1 parent_frame_id=1}
2 {file_location_id=2 parent_frame_id=1}
3 {file_location_id=3 parent_frame_id=2}
4 {file_location_id=3 parent_frame_id=4}

%fused_computation (param_0: s32[4]) -> s32[4] {
  %param_0 = s32[4]{0} parameter(0)
  ROOT %copy.9 = s32[4]{0} copy(%param_0)
}

ENTRY %main.5 (p: s32[4]) -> (s32[4], s32[4]) {
  %p = s32[4]{0} parameter(0)
  %select_fusion = s32[4]{0} fusion(%p), kind=kLoop, calls=%fused_computation, metadata={op_name="x" stack_frame_id=3}
  %add_fusion = s32[4]{0} fusion(%p), kind=kLoop, calls=%fused_computation, metadata={op_name="y" stack_frame_id=1}
  %other_fusion = s32[4]{0} fusion(%p), kind=kLoop, calls=%fused_computation, metadata={op_name="z" stack_frame_id=4}
  %copy.1 = s32[4]{0} copy(%select_fusion)
  ROOT %tuple = (s32[4]{0}, s32[4]{0}) tuple(%add_fusion, %copy.1)
}
"""


def test_hlo_census_attributes_fusions_to_the_innermost_generated_function(cp):
    census = cp.hlo_census(HLO, "env.py")
    # the fused computation's own copy is part of a kernel, not an instruction of the program
    assert census.ops == {"parameter": 1, "fusion": 3, "copy": 1, "tuple": 1}
    # frame 3 is the harness's `body` called from frame 2 (`_select`'s lambda in env.py):
    # the innermost frame in env.py names it; frame 4 never reaches env.py
    assert census.fusions_by_fn == {"_select.<locals>.<lambda>": 1, "rollout": 1, "(elsewhere)": 1}
    assert census.copies_by_fn == {"(no frame)": 1}


def test_a_stage_span_nested_in_one_that_starts_with_it_counts_once(cp):
    events = [
        _span("JitCompiler::Compile", 0, 100),  # nested in the next span, both start at 0
        _span("JitCompiler::Compile", 0, 3_000_000),
    ]
    assert cp.stage_times(events)["LLVM, IR to machine code"] == pytest.approx(3.0)
    assert cp.exclusive_times(events)["JitCompiler::Compile"] == pytest.approx(3.0)
