"""Rules engine: captures, suicide, ko, superko, setup, and agreement with GNU Go."""
import pytest

from conftest_go import GnuGo, needs_gnugo, parse_vertex, random_game, vertex
from apps.go.go import BLACK, EMPTY, WHITE, IllegalMove, Position, from_ascii, region_owners


def test_capture_removes_stones_and_counts_prisoners():
    position = from_ascii("""
        . X O .
        X O . .
        . X . .
        . . . .""")
    assert position.play((2, 2)) == [(2, 1)]
    assert position.color_at((2, 1)) == EMPTY
    assert position.prisoners[BLACK] == 1
    assert position.to_play == WHITE


def test_one_move_captures_two_groups():
    position = from_ascii("""
        O X O .
        . . X O
        . . O .
        . . . .""", to_play=WHITE)
    assert position.liberties((3, 1)) == [(2, 1)] and position.liberties((2, 2)) == [(2, 1)]
    assert sorted(position.play((2, 1))) == [(2, 2), (3, 1)]
    assert position.prisoners[WHITE] == 2
    assert position.liberties((2, 1)) == [(1, 1), (2, 0), (2, 2), (3, 1)]
    assert position.ko is None  # two stones taken: never a ko


def test_suicide_is_illegal_but_capturing_is_not():
    position = from_ascii("""
        . X . .
        X . . .
        . . . .
        . . . .""", to_play=WHITE)
    assert position.why_illegal((3, 0)) == "suicide"
    with pytest.raises(IllegalMove):
        position.play((3, 0))
    capturing = from_ascii("""
        . X O .
        X O . .
        O . . .
        . . . .""", to_play=WHITE)
    assert capturing.is_legal((3, 0))  # no liberty of its own, but it captures
    captured = capturing.play((3, 0))
    assert sorted(captured) == [(2, 0), (3, 1)]


def test_simple_ko_and_its_release_after_a_move_elsewhere():
    position = from_ascii("""
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .""")
    position.play((3, 2))  # black captures at C4
    assert position.why_illegal((3, 1)) == "retakes the ko"
    position.play((0, 4))  # white plays elsewhere (ko threat)
    position.play((0, 0))  # black answers elsewhere
    assert position.is_legal((3, 1))  # white may now retake


def test_passes_clear_ko_and_count_as_moves():
    position = from_ascii("""
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .""")
    position.play((3, 2))
    assert position.ko is not None
    position.play(None)
    assert position.ko is None and position.move_number == 2 and position.to_play == BLACK


def test_positional_superko_forbids_repeating_a_board():
    text = """
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . ."""
    position = from_ascii(text, superko=True)
    position.play((3, 2))
    position.play(None)
    position.play(None)
    simple = from_ascii(text)
    simple.play((3, 2))
    simple.play(None)
    simple.play(None)
    assert simple.is_legal((3, 1))
    # Simple ko frees the retake after the passes, but it recreates the
    # starting board, which positional superko forbids.
    assert "superko" in position.why_illegal((3, 1))


def test_setup_stones_handicap_and_player_to_move():
    position = Position(19, komi=0.5)
    position.setup(black=[(3, 3), (15, 15)], to_play=WHITE)
    assert position.to_play == WHITE and position.color_at((3, 3)) == BLACK
    broken = Position(3)
    broken.setup(white=[(2, 2)])
    with pytest.raises(IllegalMove, match="without liberties"):
        broken.setup(black=[(0, 0)], white=[(0, 1), (1, 0)])
    assert broken.board.tolist() == [0] * 8 + [WHITE] and broken.liberties((2, 2)) == [(1, 2), (2, 1)]


def test_region_owners_marks_regions_that_one_colour_alone_surrounds():
    position = from_ascii("""
        . X . O .
        X X . O O
        . . . . .
        O O O O O
        . . O . X
    """)
    owners = region_owners(position).reshape(5, 5)[::-1]  # top row first, as drawn
    assert owners[0, 0] == BLACK  # the corner black walls off
    assert owners[0, 4] == WHITE and owners[4, 0] == WHITE
    assert owners[0, 2] == EMPTY and owners[2, 2] == EMPTY  # one region touching both colours
    assert owners[4, 3] == EMPTY  # touches white and the black stone beside it
    assert (owners[position.board.reshape(5, 5)[::-1] != EMPTY] == EMPTY).all()
    assert (region_owners(Position(5)) == EMPTY).all()  # an empty board belongs to no one


def test_copy_is_independent():
    position = Position(9)
    position.play((4, 4))
    saved = position.copy()
    position.play((4, 5))
    assert saved.color_at((4, 5)) == EMPTY and saved.to_play == WHITE


def _groups_from_gnugo(gnugo, colour):
    reply = gnugo.ask(f"list_stones {colour}")
    return sorted(parse_vertex(v) for v in reply.split())


@needs_gnugo
@pytest.mark.parametrize("size,seed,moves", [(9, 1, 160), (9, 2, 160), (9, 38, 250), (13, 3, 150)])  # seed 38: 8 ko positions
def test_rules_agree_with_gnugo_on_random_games(size, seed, moves):
    gnugo = GnuGo(size)
    try:
        history = random_game(size, moves, seed)
        for number, (position, move) in enumerate(history):
            if number % 4 == 0 or position.ko is not None:  # every ko position is checked
                for colour, name in ((BLACK, "black"), (WHITE, "white")):
                    ours = sorted(position.point(i) for i in range(size * size) if position.board[i] == colour)
                    assert _groups_from_gnugo(gnugo, name) == ours, f"move {number}: {name} stones differ"
                for colour, stones, liberties in position.groups():
                    assert int(gnugo.ask(f"countlib {vertex(stones[0])}")) == len(liberties)
                to_play = "black" if position.to_play == BLACK else "white"
                for index in range(size * size):
                    point = position.point(index)
                    if position.board[index] == EMPTY:
                        expected = gnugo.ask(f"is_legal {to_play} {vertex(point)}") == "1"
                        assert position.is_legal(point) == expected, f"move {number}: {vertex(point)}"
            if move is None:
                gnugo.ask(f"play {'black' if position.to_play == BLACK else 'white'} pass")
            else:
                gnugo.ask(f"play {'black' if position.to_play == BLACK else 'white'} {vertex(move)}")
    finally:
        gnugo.close()


def test_to_ascii_draws_marks_over_points():
    from apps.go.go import to_ascii
    position = from_ascii("""
        . . .
        . X .
        . . O
    """)
    assert to_ascii(position, {(2, 0): "1", (1, 1): "2"}).splitlines() == [
        "   A B C", " 3 1 . . 3", " 2 . 2 . 2", " 1 . . O 1", "   A B C"]
