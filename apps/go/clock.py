"""Game clocks for the GTP engine: `time_settings`, `kgs-time_settings`, `time_left`, and the
time the engine may spend on its next move.

Systems (GTP 2 section 6.3.2 and KGS's extension):
- none: no limit (also GTP `time_settings` with byo-yomi time > 0 and 0 byo-yomi stones,
  and `time_settings 0 0 0`).
- absolute: main time only (GTP: byo-yomi time 0).
- canadian: after the main time, `stones` moves must be played within each byo-yomi period.
- byoyomi (Japanese, KGS only): after the main time, `periods` periods of `period_time`;
  a period is lost only by overrunning it.

`time_left colour time stones` sets what is left: with stones = 0 the player is in main time
(`time` seconds of it); with stones > 0 in byo-yomi: `time` for those stones (canadian) or,
under Japanese byo-yomi, the current period's time with `stones` periods left (as KGS sends it).
Between `time_left` commands the engine charges its own moves to its clock itself.

`budget(colour)` is the rule for a move (seconds, or None without a limit):
- in main time: main / 30 (a game is about 30 moves away from its end or from byo-yomi's
  safety), plus, when byo-yomi follows, one byo-yomi move's share;
- in canadian byo-yomi: the period's time / stones left in it;
- in Japanese byo-yomi: one period;
each less a safety margin of `MARGIN` seconds or 20% (the larger), for the controller's and the
network's lag; never below 0.
"""
from shared.errors import UserError

MARGIN = 0.25        # seconds kept back from every budget for transport and clock skew
MOVES_IN_MAIN = 30   # main time is spread over this many of our moves


class Clock:
    """One colour's clock."""

    def __init__(self):
        self.system = "none"
        self.main = self.period = 0.0
        self.stones = self.periods = 0
        self.reset()

    def reset(self):
        self.main_left = self.main
        self.period_left = self.period
        self.stones_left = self.stones    # canadian: moves still due in this period
        self.periods_left = self.periods  # byoyomi: periods not yet lost
        self.in_byoyomi = self.system in ("canadian", "byoyomi") and self.main <= 0

    def set(self, system, main=0.0, period=0.0, stones=0, periods=0):
        if system not in ("none", "absolute", "canadian", "byoyomi"):
            raise UserError(f"unknown time system {system!r}")
        if min(main, period, stones, periods) < 0:
            raise UserError("time settings must not be negative")
        self.system, self.main, self.period, self.stones, self.periods = system, main, period, stones, periods
        self.reset()

    def left(self, seconds, stones):
        """GTP `time_left`: seconds left and stones (0: main time)."""
        if seconds < 0 or stones < 0:
            raise UserError("time_left needs a time and stones >= 0")
        if stones == 0:
            self.main_left, self.in_byoyomi = seconds, False
        else:
            self.in_byoyomi = True
            self.main_left = 0.0
            if self.system == "byoyomi":
                self.period_left, self.periods_left = seconds, stones
            else:
                self.period_left, self.stones_left = seconds, stones

    def budget(self):
        """Seconds this colour may spend on its next move, or None without a limit."""
        if self.system == "none":
            return None
        if self.system == "absolute" or not self.in_byoyomi:
            share = self.main_left / MOVES_IN_MAIN
            if self.system == "canadian" and self.stones:
                share += self.period / self.stones
            elif self.system == "byoyomi" and self.periods:
                share += self.period
        elif self.system == "canadian":
            share = self.period_left / max(self.stones_left, 1)
        else:
            share = self.period
        return max(0.0, share - max(MARGIN, 0.2 * share))

    def charge(self, seconds):
        """Take a move's `seconds` off the clock (the controller's time_left overrides this)."""
        if self.system == "none":
            return
        if not self.in_byoyomi:
            if seconds <= self.main_left or self.system == "absolute":
                self.main_left = max(0.0, self.main_left - seconds)
                return
            seconds -= self.main_left
            self.main_left, self.in_byoyomi = 0.0, True
            self.period_left, self.stones_left = self.period, self.stones
        if self.system == "canadian":
            self.period_left -= seconds
            self.stones_left -= 1
            if self.stones_left <= 0:
                self.period_left, self.stones_left = self.period, self.stones
        elif seconds > self.period:
            self.periods_left = max(0, self.periods_left - int(seconds // max(self.period, 1e-9)))


class GameClocks:
    """Both colours' clocks, with GTP's and KGS's commands' argument handling."""

    def __init__(self):
        self.clocks = {}
        self.kgs("none")

    def __getitem__(self, colour):
        return self.clocks[colour]

    def settings(self, main, byo_yomi_time, byo_yomi_stones):
        """GTP `time_settings`: byo-yomi time 0 means absolute time; byo-yomi time > 0 with
        0 stones means no limit; all zero (no time at all, which no game can be played in) is
        taken as no limit too."""
        if byo_yomi_time > 0 and byo_yomi_stones == 0 or main == byo_yomi_time == 0:
            self.kgs("none")
        elif byo_yomi_time == 0:
            self.kgs("absolute", main)
        else:
            self.kgs("canadian", main, byo_yomi_time, byo_yomi_stones)

    def kgs(self, system, main=0.0, period=0.0, count=0):
        """KGS `kgs-time_settings`: none | absolute main | byoyomi main period periods |
        canadian main period stones."""
        for colour in (1, 2):
            clock = self.clocks.setdefault(colour, Clock())
            if system == "byoyomi":
                clock.set(system, main, period, periods=count)
            else:
                clock.set(system, main, period, stones=count)

    def reset(self):
        for clock in self.clocks.values():
            clock.reset()
