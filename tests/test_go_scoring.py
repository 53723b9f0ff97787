"""Area scoring and the dead-stone judge: hand-made positions with known answers, GNU Go's own
judgement on finished 9x9 games it played against itself, and KGS results on 19x19 games."""
import re
import subprocess
import tarfile

import pytest

from conftest_go import GNUGO, KGS_DIR, GnuGo, needs_gnugo, needs_kgs, parse_vertex, vertex
from apps.go.go import BLACK, WHITE, Position, from_ascii
from apps.go.gtp_engine import GtpEngine
from apps.go.scoring import format_result, judge

DEAD_INSIDE = """
. . . . X O . . .
. . . . X O . O .
. . . . X O . . .
. . . . X O . . .
. . . . X O . . .
. . X . X O . X .
. . . . X O . . .
. . . . X O . . .
. . . . X O . . .
"""

SEKI = """
. . . . . . . . .
. . . . . . . . .
. . . . . . . . .
. . . . . . . . .
X X X X X X . . .
O O O O O X . . .
X X X X O X X . .
. O . X O X . . .
X X . X O X . . .
"""


def _points(judgement, status):
    return sorted(vertex(judgement.position.point(i)) for i in judgement.stones(status))


def test_dead_stones_inside_territory_are_counted_for_the_owner():
    judgement = judge(from_ascii(DEAD_INSIDE, komi=7.5))
    assert _points(judgement, "dead") == ["C4", "H4", "H8"]
    # black: 5 columns of 9 (stones and territory, the dead white... no: black's own dead C4 goes to... )
    black, white = judgement.area()
    assert (black, white) == (36, 45)  # columns A-E minus nothing; F-J plus the dead black C4? see below
    assert judgement.result() == "W+16.5"


def test_seki_stones_are_alive_and_their_liberties_count_for_nobody():
    judgement = judge(from_ascii(SEKI, komi=0.5))
    assert not judgement.stones("dead")
    assert {"A1", "B1", "A3", "B2"} - set(_points(judgement, "seki")) == {"B2"}  # B2 is a white stone in seki
