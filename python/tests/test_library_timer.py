"""The library's own eval, timed in the Python process for bench/compare_peers.py: it times the
code it is given, on a sandbox with the C++ capability `noop`, and says what went wrong."""

import threading

import pytest

from quickbox import _quickbox


def test_it_times_each_evaluation_of_the_code_it_is_given() -> None:
    timer = _quickbox._LibraryTimer()
    plain = timer.samples("1+2", 200)
    assert len(plain) == 200 and all(sample > 0 for sample in plain)
    # A loop of 20,000 noop calls takes longer than `1+2` in every sample: the code is what runs.
    loop = timer.samples("(() => { let s = 0; for (let i = 0; i < 20000; i++) s += noop(i); return s })()", 5)
    assert min(loop) > max(sorted(plain)[:100])


def test_a_sample_of_many_calls_is_their_mean_per_call() -> None:
    # A loop's sample times 100 evaluations together and reports one's share: the same order of
    # magnitude as a call timed alone, where the total would be about 100 times larger.
    timer = _quickbox._LibraryTimer()
    alone = sorted(timer.samples("1+2", 200))[100]
    looped = timer.samples("1+2", 20, calls=100)
    assert len(looped) == 20
    assert alone / 4 < sorted(looped)[10] < alone * 4


def test_a_sample_of_no_calls_is_refused() -> None:
    with pytest.raises(ValueError, match="calls must be at least 1"):
        _quickbox._LibraryTimer().samples("1+2", 1, calls=0)


def test_a_failing_evaluation_is_an_error_naming_the_code_and_why() -> None:
    with pytest.raises(RuntimeError, match=r"`missing\(\)` did not return a value: ReferenceError"):
        _quickbox._LibraryTimer().samples("missing()", 1)


def test_the_audit_log_does_not_grow_without_bound() -> None:
    # Each noop call is an audit entry; the timer starts a new sandbox past 20,000 of them, between
    # samples, so a long run neither fails nor slows down.
    timer = _quickbox._LibraryTimer()
    assert len(timer.samples("noop(1)", 25_000)) == 25_000


def test_one_timer_used_from_two_threads_at_once_refuses_the_second() -> None:
    timer = _quickbox._LibraryTimer()
    errors: list[BaseException] = []

    def time_a_while() -> None:
        try:
            timer.samples("(() => { let s = 0; for (let i = 0; i < 1e6; i++) s += i; return s })()", 20)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=time_a_while) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [str(e) for e in errors] == ["this _LibraryTimer is timing on another thread"]
