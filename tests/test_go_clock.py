"""Game clocks: GTP's and KGS's time systems and the per-move budget rule (apps/go/clock.py)."""
import pytest

from apps.go.clock import MOVES_IN_MAIN, Clock, GameClocks
from shared.errors import UserError


def test_gtp_time_settings_pick_the_system():
    clocks = GameClocks()
    assert clocks[1].budget() is None  # no settings: no limit
    clocks.settings(600, 0, 0)
    assert clocks[1].system == "absolute"
    assert clocks[1].budget() == pytest.approx(600 / MOVES_IN_MAIN * 0.8)
    clocks.settings(600, 30, 0)  # byo-yomi time with no stones: no limit (GTP 2, 6.3.2)
    assert clocks[2].system == "none" and clocks[2].budget() is None
    clocks.settings(0, 0, 0)
    assert clocks[2].budget() is None
    clocks.settings(0, 30, 10)  # no main time: in byo-yomi from the start
    assert clocks[1].system == "canadian" and clocks[1].in_byoyomi
    assert clocks[1].budget() == pytest.approx(3.0 * 0.8)  # 3 s a stone, less 20%


def test_time_left_in_byoyomi_and_main_time():
    clock = Clock()
    clock.set("canadian", 300, 60, stones=20)
    clock.left(10, 5)  # 10 s for 5 stones
    assert clock.budget() == pytest.approx(2 - 0.4)
    clock.left(0.2, 1)  # almost out: nothing left after the margin
    assert clock.budget() == 0
    clock.left(120, 0)  # main time again
    assert clock.budget() == pytest.approx((120 / MOVES_IN_MAIN + 3) * 0.8)


def test_japanese_byoyomi_counts_periods():
    clocks = GameClocks()
    clocks.kgs("byoyomi", 0, 30, 5)
    clock = clocks[1]
    assert clock.in_byoyomi and clock.budget() == pytest.approx(24)
    clock.left(30, 2)  # KGS: the period's time and the periods left
    assert clock.periods_left == 2
    clock.charge(65)  # overrunning two periods loses them
    assert clock.periods_left == 0


def test_charging_moves_runs_down_main_time_into_byoyomi():
    clock = Clock()
    clock.set("canadian", 10, 20, stones=2)
    clock.charge(4)
    assert clock.main_left == 6 and not clock.in_byoyomi
    clock.charge(8)  # 6 s of main time, then 2 s of the first period
    assert clock.in_byoyomi and clock.period_left == 18 and clock.stones_left == 1
    clock.charge(1)  # the period's last stone: a fresh period
    assert clock.period_left == 20 and clock.stones_left == 2


def test_bad_settings_are_refused():
    with pytest.raises(UserError, match="negative"):
        Clock().set("absolute", -1)
    with pytest.raises(UserError, match="unknown time system"):
        Clock().set("hourglass", 10)
