"""bench/run.py's repeated timed scenarios: the order they run in and the median run the table shows."""

from bench.run import Row, condensed, schedule


def test_the_timed_scenarios_run_in_rounds_where_the_first_of_them_was():
    wanted = ["floor", "http", "raw", "sync", "async", "logs", "memory"]
    assert schedule(wanted, 1) == wanted
    assert schedule(wanted, 3) == ["floor", "http"] + ["raw", "sync", "async"] * 3 + ["logs", "memory"]
    assert schedule(["sync", "memory"], 2) == ["sync", "sync", "memory"]
    assert schedule(["logs", "memory"], 3) == ["logs", "memory"]


def _async(rate: float, ok: bool) -> Row:
    return Row("async (granian)", f"{rate:.0f} executions/s", budget="≥ 250/s", ok=ok, values={"per_s": rate})


def _sync(p50: float) -> Row:
    return Row("sync (granian)", f"p50 {p50} ms", budget="p50 ≤ 8 ms", ok=p50 <= 8, values={"p50_ms": p50})


def test_each_repeated_scenario_becomes_its_median_run_with_every_run_listed():
    rows = [
        Row("floor", "p50 2 ms"),
        _async(240, False),
        _sync(9.5),
        _async(280, True),
        _sync(7.0),
        _async(260, True),
        _sync(7.5),
        Row("logs", "1.1 s", ok=True),
    ]
    floor, async_row, sync_row, logs = condensed(rows)
    assert (floor.figure, logs.figure) == ("p50 2 ms", "1.1 s")  # measured once: unchanged
    assert async_row.figure == "260 executions/s [median of 3 runs: 240/s, 280/s, 260/s]"
    assert async_row.ok is True and async_row.values["per_s"] == 260
    assert [run["per_s"] for run in async_row.values["runs"]] == [240, 280, 260]
    assert sync_row.figure == "p50 7.5 ms [median of 3 runs: p50 9.50 ms, p50 7.00 ms, p50 7.50 ms]"
    assert sync_row.ok is True


def test_of_an_even_number_of_runs_the_worse_middle_one_counts():
    rows = [_async(300, True), _async(240, False), _async(255, True), _async(230, False)]
    (row,) = condensed(rows)
    assert row.values["per_s"] == 240 and row.ok is False
    (row,) = condensed([_sync(7.0), _sync(8.5), _sync(7.9), _sync(9.0)])
    assert row.values["p50_ms"] == 8.5 and row.ok is False


def test_a_failed_run_is_kept_as_it_is():
    failed = Row("sync", "error: the worker did not start", ok=False)
    assert condensed([failed, _sync(7.0)]) == [failed, _sync(7.0)]


def test_the_machine_factor_scales_only_slow_rounds():
    from bench.run import machine_factor

    assert machine_factor(830) == 1.0
    assert machine_factor(1660) == 1.0  # a fast round is judged by the absolute budget
    assert machine_factor(415) == 2.0
    assert machine_factor(float("nan")) is None and machine_factor(0) is None


def test_the_verdict_shows_the_absolute_and_the_factor_verdict_side_by_side():
    from bench.run import verdict

    slow_round = Row("sync", "p50 12 ms", ok=False, values={"p50_ms": 12}, factor=2.0, ok_at_factor=True)
    assert verdict(slow_round) == "MISS; at ×2.00: PASS"
    regression = Row("sync", "p50 20 ms", ok=False, values={"p50_ms": 20}, factor=2.0, ok_at_factor=False)
    assert verdict(regression) == "MISS; at ×2.00: MISS"
    assert verdict(Row("memory", "90 MB", ok=True)) == "PASS"
    (row,) = condensed([slow_round, regression, slow_round])
    assert (row.values["p50_ms"], row.factor, row.ok_at_factor) == (12, 2.0, True)
