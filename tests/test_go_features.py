"""The 48 feature planes on hand-drawn positions, and symmetry on real games."""
import tarfile

import numpy as np

from conftest_go import KGS_DIR, needs_kgs
from apps.go.features import FEATURES, LADDER_MAX_DEPTH, NUM_PLANES, features, plane_offsets, symmetries
from apps.go.go import BLACK, WHITE, IllegalMove, Position, from_ascii
from apps.go.sgf_wrapper import parse_sgf, replay

OFFSETS = plane_offsets()


def plane(planes, name, bucket=0):
    """One plane as a grid printed top row first, to compare with ASCII boards."""
    return planes[:, :, OFFSETS[name] + bucket][::-1]


def grid(text):
    return np.array([[int(c) for c in line.split()] for line in text.strip().splitlines()], dtype=np.uint8)


def bucket_of(planes, name, point):
    """Which bucket of a one-hot feature is set at point, or None when none is."""
    feature = next(f for f in FEATURES if f.name == name)
    values = planes[point[0], point[1], OFFSETS[name]:OFFSETS[name] + feature.planes]
    assert values.sum() <= 1, f"{name} is not one-hot at {point}"
    return int(values.argmax()) if values.any() else None


def test_the_table_defines_48_planes_in_paper_order():
    assert NUM_PLANES == 48
    assert [f.name for f in FEATURES] == [
        "stone_colour", "ones", "turns_since", "liberties", "capture_size", "self_atari_size",
        "liberties_after_move", "ladder_capture", "ladder_escape", "sensibleness", "zeros"]
    assert [f.planes for f in FEATURES] == [3, 1, 8, 8, 8, 8, 8, 1, 1, 1, 1]
    assert OFFSETS["zeros"] == 47


def test_colour_ones_zeros_and_player_colour_are_relative_to_the_player():
    position = from_ascii("""
        . . .
        . X .
        . . O""", to_play=WHITE)
    planes = features(position)
    assert planes.shape == (3, 3, 48) and planes.dtype == np.uint8
    assert plane(planes, "stone_colour", 0)[2, 2] == 1  # white is the player
    assert plane(planes, "stone_colour", 1)[1, 1] == 1
    assert plane(planes, "stone_colour", 2).sum() == 7
    assert planes[:, :, OFFSETS["ones"]].all() and not planes[:, :, OFFSETS["zeros"]].any()
    assert not features(position, player_colour_plane=True)[:, :, 48].any()
    position.to_play = BLACK
    assert features(position, player_colour_plane=True)[:, :, 48].all()


def test_turns_since_counts_moves_and_setup_stones_are_old():
    position = from_ascii("""
        X . . . .
        . . . . .
        . . . . .
        . . . . .
        . . . . .""")
    for col in range(5):
        position.play((0, col))  # black
        position.play((2, col))  # white
    planes = features(position)
    assert bucket_of(planes, "turns_since", (2, 4)) == 0   # last move: 1 turn ago
    assert bucket_of(planes, "turns_since", (0, 4)) == 1
    assert bucket_of(planes, "turns_since", (2, 1)) == 6   # 7 turns ago
    assert bucket_of(planes, "turns_since", (0, 1)) == 7   # 8 turns ago
    assert bucket_of(planes, "turns_since", (0, 0)) == 7   # 10 turns ago: >= 8
    assert bucket_of(planes, "turns_since", (4, 0)) == 7   # setup stone
    assert bucket_of(planes, "turns_since", (3, 3)) is None


def test_liberties_of_groups():
    position = from_ascii("""
        X X . . .
        O . . . .
        . . . . .
        . . . . .
        . . . . .""")
    planes = features(position)
    assert bucket_of(planes, "liberties", (4, 0)) == 1  # black A5-B5: C5 and B4
    assert bucket_of(planes, "liberties", (3, 0)) == 1  # white A4: A3, B4
    open_board = features(from_ascii(". . . . .\n. . . . .\n. . X . .\n. . . . .\n. . . . ."))
    assert bucket_of(open_board, "liberties", (2, 2)) == 3


def test_capture_self_atari_and_liberties_after_in_a_snapback():
    position = from_ascii("""
        . . . . .
        . . . . .
        X X X X .
        O O O X .
        . . O X .""")
    planes = features(position)
    # Black's throw-in at B1 captures nothing, is a self-atari of one stone
    # with one liberty, and is still sensible.
    assert bucket_of(planes, "capture_size", (0, 1)) == 0
    assert bucket_of(planes, "self_atari_size", (0, 1)) == 0
    assert bucket_of(planes, "liberties_after_move", (0, 1)) == 0
    assert plane(planes, "sensibleness")[4, 1] == 1
    position.play((0, 1))
    planes = features(position)
    # White takes the stone at A1 and ends in atari with 5 stones: the snapback.
    assert bucket_of(planes, "capture_size", (0, 0)) == 1
    assert bucket_of(planes, "self_atari_size", (0, 0)) == 4
    position.play((0, 0))
    planes = features(position)
    assert position.ko is None
    assert bucket_of(planes, "capture_size", (0, 1)) == 5
    assert bucket_of(planes, "liberties_after_move", (0, 1)) == 2  # A1, B2, C1: 3 liberties
    assert bucket_of(planes, "self_atari_size", (0, 1)) is None


def test_ko_point_is_illegal_and_occupied_points_have_no_move_features():
    position = from_ascii("""
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .""")
    position.play((3, 2))  # black takes the ko
    planes = features(position)
    move_planes = slice(OFFSETS["capture_size"], OFFSETS["zeros"])
    assert not planes[3, 1, move_planes].any()  # white may not retake at B4
    assert not planes[3, 2, move_planes].any()  # occupied
    position.play((0, 4))
    position.play((0, 0))
    planes = features(position)
    assert bucket_of(planes, "capture_size", (3, 1)) == 1
    assert bucket_of(planes, "self_atari_size", (3, 1)) == 0  # retaking leaves it in atari


def test_capture_size_saturates_at_seven():
    position = from_ascii("""
        O O O O O O O O O
        X X X X X X X X .
        O O O O O O O O O
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .""", to_play=WHITE)
    planes = features(position)
    assert bucket_of(planes, "capture_size", (7, 8)) == 7
    assert bucket_of(planes, "liberties", (7, 0)) == 0


def test_sensibleness_real_eye_false_eye_and_edge_eye():
    position = from_ascii("""
        . . . . . . .
        . X X X . . .
        . X . X . . .
        . X X X . . .
        . . . . . . .
        O . O . . . .
        X . X . . . .""")
    planes = features(position)
    sensible = plane(planes, "sensibleness")
    assert sensible[2, 2] == 0          # black's own real eye
    assert sensible[4, 4] == 1          # an ordinary point
    # B1: the edge point between black A1 and C1 is not an eye (B2 is empty).
    assert sensible[6, 1] == 1
    white = from_ascii("""
        . . . . . . .
        . X X X . . .
        . X . X . . .
        . X X X . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .""", to_play=WHITE)
    assert plane(features(white), "sensibleness")[2, 2] == 0  # suicide for white: illegal


def test_false_eyes_are_sensible_to_fill():
    centre = from_ascii("""
        . . . . .
        . O X O .
        . X . X .
        . . X . .
        . . . . .""")
    # Two opponent diagonals: a false eye, so filling it is sensible.
    assert plane(features(centre), "sensibleness")[2, 2] == 1
    one_diagonal = from_ascii("""
        . . . . .
        . O X . .
        . X . X .
        . . X . .
        . . . . .""")
    assert plane(features(one_diagonal), "sensibleness")[2, 2] == 0
    edge = from_ascii("""
        . . . . .
        . . . . .
        . . . . .
        . X X O .
        . X . X .""")
    # On the edge one opponent diagonal is enough to make the eye false.
    assert plane(features(edge), "sensibleness")[4, 2] == 1
    edge_real = from_ascii("""
        . . . . .
        . . . . .
        . . . . .
        . X X X .
        . X . X .""")
    assert plane(features(edge_real), "sensibleness")[4, 2] == 0


LADDER = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . X O . . . . . .
    . . X X . . . . .
    . . . . . . . . ."""
# A white stone on the ladder's diagonal path, at G7.
LADDER_BROKEN = LADDER.replace(
    ". . . . . . . . .\n    . . . . . . . . .\n    . . . . . . . . .\n    . . . . . . . . .\n    . X",
    ". . . . . . . . .\n    . . . . . . O . .\n    . . . . . . . . .\n    . . . . . . . . .\n    . X")


def test_ladder_capture_works_on_an_empty_board():
    planes = features(from_ascii(LADDER, to_play=BLACK))
    expected = np.zeros((9, 9), np.uint8)
    expected[5, 2] = 1  # C4 (row 3, col 2): atari from above drives white to the edge
    assert (plane(planes, "ladder_capture") == expected).all()
    # The other atari (D3) lets white extend upwards to three liberties.


def test_ladder_capture_fails_with_a_ladder_breaker():
    assert LADDER_BROKEN.count("O") == 2
    planes = features(from_ascii(LADDER_BROKEN, to_play=BLACK))
    assert not plane(planes, "ladder_capture").any()


def test_ladder_escape_only_with_a_breaker():
    caught = from_ascii(LADDER, to_play=WHITE)
    caught.play((3, 2), BLACK)
    assert not plane(features(caught), "ladder_escape").any()
    escaping = from_ascii(LADDER_BROKEN, to_play=WHITE)
    escaping.play((3, 2), BLACK)
    expected = np.zeros((9, 9), np.uint8)
    expected[6, 3] = 1  # D3
    assert (plane(features(escaping), "ladder_escape") == expected).all()


def test_ladder_escape_by_extending_or_capturing_an_attacker_in_atari():
    position = from_ascii("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . X O X . . .
        . O X . . . .
        . . O . . . .
        . . . . . . .""", to_play=BLACK)
    # Black C3 is in atari; white C4 is in atari too. Extending at D3 joins D4
    # (4 liberties); taking C4 at C5 leaves C3 with 2 liberties and no ladder.
    expected = np.zeros((7, 7), np.uint8)
    expected[4, 3] = 1  # D3
    expected[2, 2] = 1  # C5
    assert (plane(features(position), "ladder_escape") == expected).all()


def test_long_ladder_across_a_19x19_board_is_read_to_the_end():
    rows = ["." * 19 for _ in range(19)]
    board = [list(r) for r in rows]
    # A ladder starting near the bottom-left corner: ~30 moves to the top-right.
    board[18 - 2][1] = "X"
    board[18 - 2][2] = "O"
    board[18 - 1][2] = "X"
    board[18 - 1][3] = "X"
    text = "\n".join(" ".join(r) for r in board)
    planes = features(from_ascii(text, to_play=BLACK))
    assert plane(planes, "ladder_capture")[18 - 3, 2] == 1
    board[3][16] = "O"  # a breaker far away on the diagonal
    planes = features(from_ascii("\n".join(" ".join(r) for r in board), to_play=BLACK))
    assert plane(planes, "ladder_capture")[18 - 3, 2] == 0


def _transformed(position, symmetry):
    """A copy of `position` with board, stone ages and ko point mapped by `symmetry`."""
    size = position.size
    other = Position(size, komi=position.komi)
    board = symmetry(position.grid())
    black = [tuple(p) for p in np.argwhere(board == BLACK)]
    white = [tuple(p) for p in np.argwhere(board == WHITE)]
    other.setup(black, white, to_play=position.to_play)
    other.placed_at = np.ascontiguousarray(symmetry(position.placed_at.reshape(size, size))).ravel()
    other.move_number = position.move_number
    if position.ko is not None:
        mask = np.zeros(size * size, np.int8)
        mask[position.ko] = 1
        other.ko = int(np.ascontiguousarray(symmetry(mask.reshape(size, size))).ravel().argmax())
    return other


def kgs_games(count):
    archive = sorted(KGS_DIR.glob("KGS-2017_03-*.tar.gz"))[0]
    games = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".sgf"):
                games.append(parse_sgf(tar.extractfile(member).read()))
                if len(games) == count:
                    break
    return games


def test_the_eight_symmetries_on_a_hand_drawn_board():
    board = [[1, 2, 3],
             [4, 5, 6],
             [7, 8, 9]]
    drawn = [
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],  # identity
        [[3, 6, 9], [2, 5, 8], [1, 4, 7]],  # a quarter turn
        [[9, 8, 7], [6, 5, 4], [3, 2, 1]],  # a half turn
        [[7, 4, 1], [8, 5, 2], [9, 6, 3]],  # three quarter turns
        [[7, 8, 9], [4, 5, 6], [1, 2, 3]],  # rows reversed
        [[3, 2, 1], [6, 5, 4], [9, 8, 7]],  # columns reversed
        [[1, 4, 7], [2, 5, 8], [3, 6, 9]],  # the main diagonal's mirror
        [[9, 6, 3], [8, 5, 2], [7, 4, 1]],  # the other diagonal's mirror
    ]
    for symmetry, expected in zip(symmetries(), drawn):
        np.testing.assert_array_equal(symmetry(np.array(board)), expected)


@needs_kgs
def test_symmetries_commute_with_features_on_real_games():
    checked = 0
    for record in kgs_games(8):
        for number, (position, _) in enumerate(replay(record)):
            if number % 9 != 4:
                continue
            planes = features(position)
            for symmetry in symmetries():
                assert np.array_equal(features(_transformed(position, symmetry)), symmetry(planes))
            checked += 1
    assert checked >= 150


@needs_kgs
def test_real_game_planes_are_consistent():
    for record in kgs_games(2):
        for position, (colour, move) in replay(record):
            planes = features(position)
            assert (planes[:, :, 0:3].sum(axis=2) == 1).all()
            if move is not None and colour == position.to_play:
                assert planes[move[0], move[1], OFFSETS["sensibleness"]] or \
                    planes[move[0], move[1], OFFSETS["liberties_after_move"]:OFFSETS["ladder_capture"]].any()


def test_rules_and_features_do_not_import_tensorflow():
    import subprocess
    import sys
    from conftest_go import REPO
    code = "import sys, apps.go.go, apps.go.features, apps.go.prepare; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


# ----- an independent, slow reference built on the rules engine ---------------------------


def _reference_ladder_captured(position, target, attacker_to_move, depth=0):
    """The ladder definition of features.py, read with Position copies (ko ignored)."""
    defender = position.color_at(target)
    attacker = BLACK + WHITE - defender
    liberties = position.liberties(target)
    if attacker_to_move:
        options = [(move, attacker) for move in liberties]
    else:
        options = [(liberties[0], defender)]
        for point in position.group_stones(target):
            for neighbour in _neighbours(position, point):
                if position.color_at(neighbour) == attacker and len(position.liberties(neighbour)) == 1:
                    capture = position.liberties(neighbour)[0]
                    if (capture, defender) not in options:
                        options.append((capture, defender))
    for move, colour in options:
        child = position.copy()
        child.ko = None
        try:
            child.play(move, colour)
        except IllegalMove:
            continue
        count = len(child.liberties(target))
        if attacker_to_move:
            if count == 1 and depth + 1 < LADDER_MAX_DEPTH and \
                    _reference_ladder_captured(child, target, False, depth + 1):
                return True
        else:
            if count >= 3:
                return False
            if count == 2 and (depth + 1 >= LADDER_MAX_DEPTH or
                               not _reference_ladder_captured(child, target, True, depth + 1)):
                return False
    return not attacker_to_move


def _neighbours(position, point):
    row, col = point
    return [(r, c) for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
            if 0 <= r < position.size and 0 <= c < position.size]


def _reference_planes(position):
    """All 48 planes computed the slow way, point by point, with the rules engine."""
    size = position.size
    player, enemy = position.to_play, BLACK + WHITE - position.to_play
    out = np.zeros((size, size, 48), np.uint8)
    out[:, :, OFFSETS["ones"]] = 1
    for row in range(size):
        for col in range(size):
            point = (row, col)
            colour = position.color_at(point)
            if colour:
                out[row, col, OFFSETS["stone_colour"] + (0 if colour == player else 1)] = 1
                age = position.move_number + 1 - int(position.placed_at[row * size + col])
                out[row, col, OFFSETS["turns_since"] + min(age, 8) - 1] = 1
                out[row, col, OFFSETS["liberties"] + min(len(position.liberties(point)), 8) - 1] = 1
                continue
            out[row, col, OFFSETS["stone_colour"] + 2] = 1
            if not position.is_legal(point):
                continue
            child = position.copy()
            captured = len(child.play(point))
            liberties = len(child.liberties(point))
            out[row, col, OFFSETS["capture_size"] + min(captured, 7)] = 1
            out[row, col, OFFSETS["liberties_after_move"] + min(liberties, 8) - 1] = 1
            if liberties == 1:
                out[row, col, OFFSETS["self_atari_size"] + min(len(child.group_stones(point)), 8) - 1] = 1
            neighbours = _neighbours(position, point)
            diagonals = [(r, c) for r, c in ((row - 1, col - 1), (row - 1, col + 1), (row + 1, col - 1),
                                             (row + 1, col + 1)) if 0 <= r < size and 0 <= c < size]
            enemy_diagonals = sum(position.color_at(d) == enemy for d in diagonals)
            own_eye = all(position.color_at(n) == player for n in neighbours) and \
                enemy_diagonals < (1 if len(diagonals) < 4 else 2)
            out[row, col, OFFSETS["sensibleness"]] = not own_eye
    for colour, stones, liberties in position.groups():
        if colour == enemy and len(liberties) == 2:
            for move in liberties:
                if position.is_legal(move):
                    child = position.copy()
                    child.play(move)
                    if len(child.liberties(stones[0])) == 1 and \
                            _reference_ladder_captured(child, stones[0], False):
                        out[move[0], move[1], OFFSETS["ladder_capture"]] = 1
        if colour == player and len(liberties) == 1:
            candidates = list(liberties)
            for stone in stones:
                for n in _neighbours(position, stone):
                    if position.color_at(n) == enemy and len(position.liberties(n)) == 1:
                        candidates.append(position.liberties(n)[0])
            for move in candidates:
                if position.is_legal(move):
                    child = position.copy()
                    child.play(move)
                    count = len(child.liberties(stones[0]))
                    if count >= 3 or (count == 2 and not _reference_ladder_captured(child, stones[0], True)):
                        out[move[0], move[1], OFFSETS["ladder_escape"]] = 1
    return out


@needs_kgs
def test_fast_planes_equal_a_slow_reference_on_real_games():
    checked = 0
    for record in kgs_games(12)[4:]:
        for number, (position, _) in enumerate(replay(record)):
            if number % 19 == 5:
                expected = _reference_planes(position)
                actual = features(position)
                for feature in FEATURES:
                    sl = slice(OFFSETS[feature.name], OFFSETS[feature.name] + feature.planes)
                    assert np.array_equal(actual[:, :, sl], expected[:, :, sl]), \
                        f"{feature.name} differs at move {number}"
                checked += 1
    assert checked >= 60
