"""SGF -> GameRecord: setup, handicap, komi, player to move, passes, results, bad games."""
import pytest

import conftest_go  # noqa: F401  (puts the repository root on sys.path)

from apps.go.go import BLACK, WHITE
from apps.go.sgf_wrapper import BadGame, parse_sgf, replay, start_position


def test_handicap_game_with_setup_komi_and_result():
    record = parse_sgf(b"(;GM[1]FF[4]SZ[19]KM[0.5]HA[2]AB[dp][pd]RE[W+3.5];W[qp];B[dd];W[];B[tt])")
    assert record.size == 19 and record.komi == 0.5 and record.handicap == 2
    assert record.setup_black == [(3, 3), (15, 15)]  # SGF rows count from the top and record.setup_white == []
    assert record.first_player == WHITE  # inferred from the first move
    assert record.moves == [(WHITE, (3, 16)), (BLACK, (15, 3)), (WHITE, None), (BLACK, None)]
    assert record.winner == WHITE
    position = start_position(record)
    assert position.to_play == WHITE and position.handicap == 2 and position.color_at((3, 3)) == BLACK


def test_player_to_move_from_pl_and_from_handicap_without_moves():
    assert parse_sgf(b"(;SZ[9]AB[cc]AW[gg]PL[W])").first_player == WHITE
    assert parse_sgf(b"(;SZ[9]HA[2]AB[cc][gg])").first_player == WHITE
    assert parse_sgf(b"(;SZ[9])").first_player == BLACK


def test_replay_yields_positions_before_each_move():
    record = parse_sgf(b"(;SZ[9];B[ee];W[ec];B[])")
    seen = [(position.move_number, position.to_play, move) for position, move in replay(record)]
    assert seen == [(0, BLACK, (BLACK, (4, 4))), (1, WHITE, (WHITE, (6, 4))), (2, BLACK, (BLACK, None))]


def test_the_same_colour_moving_twice_becomes_the_player_to_move():
    record = parse_sgf(b"(;SZ[9];B[ee];B[cc];W[gg])")
    movers = [(position.to_play, colour) for position, (colour, _) in replay(record)]
    assert all(to_play == colour for to_play, colour in movers)


@pytest.mark.parametrize("data,reason", [
    (b"(;SZ[19];B[dd];W[", "unparseable"),
    (b"not an sgf at all", "unparseable"),
    (b"(;SZ[19]KM[abc];B[dd])", "unparseable"),
    (b"(;SZ[9];B[ee];AB[cc];W[dd])", "setup stones in node 2"),
    (b"(;SZ[19];B[dd];W[zz])", "move 2: bad point 'zz' for a 19x19 board"),
])
def test_bad_games_raise_badgame_with_a_reason(data, reason):
    with pytest.raises(BadGame, match=reason):
        parse_sgf(data)


def test_illegal_moves_and_broken_setup_are_found_by_replay():
    with pytest.raises(BadGame, match="illegal move 2: white E5: point is occupied"):  # board names
        list(replay(parse_sgf(b"(;SZ[9];B[ee];W[ee])")))
    with pytest.raises(BadGame, match="broken setup"):
        list(replay(parse_sgf(b"(;SZ[9]AB[aa]AW[ab][ba];B[ee])")))
