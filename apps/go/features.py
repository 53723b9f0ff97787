"""AlphaGo's 48 input feature planes (Silver et al. 2016, Extended Data Table 2).

`FEATURES` below is the single source of truth: every plane's name, count and
meaning, in the order they are stacked. `plane_offsets()` derives the channel
of each feature from it, and the tests read it too.

All features are relative to the player to move ("player" / "opponent"), and
the output is a `(size, size, planes)` uint8 array indexed `[row, col, plane]`
like `Position.grid()` (row 0 = bottom line), channels last as Keras expects.

Bucket semantics (integer features are one-hot; the last plane means "or more"):

* turns since: moves since the stone was played, 1 (the last move) .. >=8;
  setup/handicap stones count as >=8. Empty points: all zero.
* liberties: liberties of the stone's group, 1 .. >=8. Empty points: all zero.
* capture size: opponent stones a legal move would capture, 0 .. >=7 (so the
  first plane is "captures nothing", as in the paper's "How many opponent
  stones would be captured"). Illegal moves and stones: all zero.
* self-atari size: stones in the player's group after a legal move that
  leaves it with exactly one liberty, 1 .. >=8; otherwise all zero.
* liberties after move: liberties of the player's group after a legal move
  (captures applied), 1 .. >=8; illegal moves and stones all zero.

Legality here is the simple-ko rule with suicide illegal (superko is not
applied: it needs the game's history and changes almost nothing).

Sensibleness: legal and not filling one of the player's own eyes. An eye is an
empty point whose on-board orthogonal neighbours are all the player's stones
and which is not a false eye: a false eye has an opponent stone on 2 or more
of its diagonals, or on 1 or more when the point is on the edge or in a
corner (the usual Go-program heuristic; empty diagonals count as safe).

Ladders are read by a bounded search (`_ladder_captured`): the defender's
group in atari may extend at its liberty or capture any attacker group next to
it that is in atari; after a defender move, 3+ liberties means escaped, 1 means
caught; with 2 the attacker tries an atari at each of the two liberties. The
search stops at `LADDER_MAX_DEPTH` plies (enough for a ladder across the
whole board, about 2 x 36 plies) or `LADDER_MAX_NODES` positions per question;
a ladder not proven within those bounds counts as not working. Ko is ignored
inside ladder reading.

* ladder capture: a legal move that puts an opponent group with 2 liberties
  into atari such that the opponent, to move, cannot escape the ladder.
* ladder escape: a legal move that saves one of the player's groups in atari:
  afterwards the group has 3+ liberties, or 2 and the opponent, to move,
  cannot capture it by ladder. Candidate moves are the group's liberty and
  captures of opponent groups in atari next to it.

The optional 49th plane (`player_colour`, for value networks) is all ones
when black is to move.

The hot loops are compiled with numba (`cache=True`, so compilation happens
once per machine); pure Python is about 100x too slow for liberties-after-move
and ladders over every empty point.
"""
import collections

import numpy as np
from numba import njit

from apps.go.go import BLACK, WHITE

Feature = collections.namedtuple("Feature", "name planes description")

FEATURES = (
    Feature("stone_colour", 3, "player stone / opponent stone / empty"),
    Feature("ones", 1, "a constant plane of 1s"),
    Feature("turns_since", 8, "moves since this stone was played: 1, 2, ..., >=8 (setup stones >=8)"),
    Feature("liberties", 8, "liberties of the stone's group: 1, 2, ..., >=8"),
    Feature("capture_size", 8, "opponent stones captured by a legal move here: 0, 1, ..., >=7"),
    Feature("self_atari_size", 8, "own stones left in atari by a legal move here: 1, 2, ..., >=8"),
    Feature("liberties_after_move", 8, "liberties of own group after a legal move here: 1, 2, ..., >=8"),
    Feature("ladder_capture", 1, "a move here wins a ladder against an opponent group"),
    Feature("ladder_escape", 1, "a move here saves an own group in atari from a ladder"),
    Feature("sensibleness", 1, "a move here is legal and does not fill an own eye"),
    Feature("zeros", 1, "a constant plane of 0s"),
)
PLAYER_COLOUR = Feature("player_colour", 1, "1s if black is to move (49th plane, value network only)")

NUM_PLANES = sum(f.planes for f in FEATURES)  # 48

LADDER_MAX_DEPTH = 200
LADDER_MAX_NODES = 1000


def plane_offsets(features=FEATURES):
    """{name: first channel} derived from the table."""
    offsets, channel = {}, 0
    for feature in features:
        offsets[feature.name] = channel
        channel += feature.planes
    return offsets


_OFFSETS = plane_offsets(FEATURES)
_OFF_COLOUR = _OFFSETS["stone_colour"]
_OFF_ONES = _OFFSETS["ones"]
_OFF_TURNS = _OFFSETS["turns_since"]
_OFF_LIBS = _OFFSETS["liberties"]
_OFF_CAPTURE = _OFFSETS["capture_size"]
_OFF_SELF_ATARI = _OFFSETS["self_atari_size"]
_OFF_LIBS_AFTER = _OFFSETS["liberties_after_move"]
_OFF_LADDER_CAPTURE = _OFFSETS["ladder_capture"]
_OFF_LADDER_ESCAPE = _OFFSETS["ladder_escape"]
_OFF_SENSIBLE = _OFFSETS["sensibleness"]


_TABLES = {}


def _tables(size):
    """(neighbours, diagonals) as int32 (size*size, 4) arrays padded with -1."""
    if size not in _TABLES:
        neighbours = np.full((size * size, 4), -1, dtype=np.int32)
        diagonals = np.full((size * size, 4), -1, dtype=np.int32)
        for index in range(size * size):
            row, col = divmod(index, size)
            for table, steps in ((neighbours, ((-1, 0), (1, 0), (0, -1), (0, 1))),
                                 (diagonals, ((-1, -1), (-1, 1), (1, -1), (1, 1)))):
                k = 0
                for dr, dc in steps:
                    r, c = row + dr, col + dc
                    if 0 <= r < size and 0 <= c < size:
                        table[index, k] = r * size + c
                        k += 1
        _TABLES[size] = (neighbours, diagonals)
    return _TABLES[size]


def features(position, player_colour_plane=False):
    """The (size, size, 48) uint8 planes of `position` (49 with the player-colour plane)."""
    size = position.size
    neighbours, diagonals = _tables(size)
    planes = NUM_PLANES + (1 if player_colour_plane else 0)
    out = np.zeros((size * size, planes), dtype=np.uint8)
    # The stone played by the last move is 1 turn old.
    turns_since = position.move_number + 1 - position.placed_at.astype(np.int64)
    _fill_planes(position.board, int(position.to_play), -1 if position.ko is None else int(position.ko),
                 turns_since, neighbours, diagonals, out)
    if player_colour_plane and position.to_play == BLACK:
        out[:, NUM_PLANES] = 1
    return out.reshape(size, size, planes)


def symmetries():
    """The 8 symmetries of the square, as functions on arrays indexed [row, col, ...]."""
    return [
        lambda a: a,
        lambda a: np.rot90(a, 1, axes=(0, 1)),
        lambda a: np.rot90(a, 2, axes=(0, 1)),
        lambda a: np.rot90(a, 3, axes=(0, 1)),
        lambda a: np.flip(a, axis=0),
        lambda a: np.flip(a, axis=1),
        lambda a: np.swapaxes(a, 0, 1),
        lambda a: np.rot90(np.flip(a, axis=0), 1, axes=(0, 1)),
    ]


# ----- compiled kernels ------------------------------------------------------------------


@njit(cache=True, nogil=True)  # nogil: parallel tf.data generator threads featurize at once
def _fill_planes(board, player, ko, turns_since, neighbours, diagonals, out):
    points = board.shape[0]
    enemy = BLACK + WHITE - player

    # Label groups: group_of, size, liberty count, and stone / liberty lists (CSR).
    group_of = np.full(points, -1, np.int32)
    stones = np.empty(points, np.int32)
    stone_start = np.empty(points + 1, np.int32)
    libs = np.empty(4 * points, np.int32)
    lib_start = np.empty(points + 1, np.int32)
    mark = np.zeros(points, np.int32)
    groups = 0
    top = 0
    lib_top = 0
    for p in range(points):
        if board[p] == 0 or group_of[p] >= 0:
            continue
        stone_start[groups] = top
        lib_start[groups] = lib_top
        group_of[p] = groups
        stones[top] = p
        top += 1
        i = stone_start[groups]
        while i < top:
            s = stones[i]
            i += 1
            for k in range(4):
                n = neighbours[s, k]
                if n < 0:
                    break
                if board[n] == board[p] and group_of[n] < 0:
                    group_of[n] = groups
                    stones[top] = n
                    top += 1
                elif board[n] == 0 and mark[n] != groups + 1:
                    mark[n] = groups + 1
                    libs[lib_top] = n
                    lib_top += 1
        groups += 1
    stone_start[groups] = top
    lib_start[groups] = lib_top

    # Stones: colour, turns since, liberties.
    for p in range(points):
        if board[p] == 0:
            out[p, _OFF_COLOUR + 2] = 1
            continue
        out[p, _OFF_COLOUR + (0 if board[p] == player else 1)] = 1
        t = turns_since[p]
        out[p, _OFF_TURNS + (min(t, 8) - 1 if t >= 1 else 7)] = 1
        g = group_of[p]
        out[p, _OFF_LIBS + min(lib_start[g + 1] - lib_start[g], 8) - 1] = 1
    out[:, _OFF_ONES] = 1

    # Empty points: the consequences of playing there.
    stamp = np.zeros(points, np.int32)
    current = 0
    own = np.empty(4, np.int32)
    taken = np.empty(4, np.int32)
    legal = np.zeros(points, np.uint8)
    for m in range(points):
        if board[m] != 0:
            continue
        n_own = 0
        n_taken = 0
        captured = 0
        for k in range(4):
            n = neighbours[m, k]
            if n < 0:
                break
            if board[n] == 0:
                continue
            g = group_of[n]
            if board[n] == player:
                seen = False
                for j in range(n_own):
                    if own[j] == g:
                        seen = True
                if not seen:
                    own[n_own] = g
                    n_own += 1
            elif lib_start[g + 1] - lib_start[g] == 1:
                seen = False
                for j in range(n_taken):
                    if taken[j] == g:
                        seen = True
                if not seen:
                    taken[n_taken] = g
                    n_taken += 1
                    captured += stone_start[g + 1] - stone_start[g]
        # Liberties after the move: union of the empty neighbours, the own
        # groups' liberties and the captured stones touching the new group.
        current += 1
        liberties_after = 0
        for k in range(4):
            n = neighbours[m, k]
            if n < 0:
                break
            if board[n] == 0 and stamp[n] != current:
                stamp[n] = current
                liberties_after += 1
        merged = 1
        for j in range(n_own):
            g = own[j]
            merged += stone_start[g + 1] - stone_start[g]
            for i in range(lib_start[g], lib_start[g + 1]):
                lib = libs[i]
                if lib != m and stamp[lib] != current:
                    stamp[lib] = current
                    liberties_after += 1
        for j in range(n_taken):
            g = taken[j]
            for i in range(stone_start[g], stone_start[g + 1]):
                s = stones[i]
                for k in range(4):
                    n = neighbours[s, k]
                    if n < 0:
                        break
                    touches = n == m
                    if not touches and board[n] == player:
                        for q in range(n_own):
                            if group_of[n] == own[q]:
                                touches = True
                    if touches:
                        liberties_after += 1
                        break
        if m == ko or liberties_after == 0:
            continue
        legal[m] = 1
        out[m, _OFF_CAPTURE + min(captured, 7)] = 1
        out[m, _OFF_LIBS_AFTER + min(liberties_after, 8) - 1] = 1
        if liberties_after == 1:
            out[m, _OFF_SELF_ATARI + min(merged, 8) - 1] = 1
        if not _is_own_eye(board, neighbours, diagonals, m, player, enemy):
            out[m, _OFF_SENSIBLE] = 1

    # Ladder capture: atari on an opponent group with two liberties.
    scratch, stamps = _new_scratch(points)
    boards = np.empty((LADDER_MAX_DEPTH + 1, points), np.int8)
    for g in range(groups):
        p = stones[stone_start[g]]
        if board[p] != enemy or lib_start[g + 1] - lib_start[g] != 2:
            continue
        for i in range(lib_start[g], lib_start[g + 1]):
            m = libs[i]
            if not legal[m] or out[m, _OFF_LADDER_CAPTURE]:
                continue
            trial = board.copy()
            if _play(trial, neighbours, m, player, scratch, stamps) < 0:
                continue
            if _liberty_count(trial, neighbours, p, scratch, stamps) == 1:
                if _ladder_captured(trial, neighbours, p, False, boards, scratch, stamps):
                    out[m, _OFF_LADDER_CAPTURE] = 1

    # Ladder escape: save an own group in atari by extending or capturing.
    candidates = np.empty(4 * points + 1, np.int32)
    for g in range(groups):
        p = stones[stone_start[g]]
        if board[p] != player or lib_start[g + 1] - lib_start[g] != 1:
            continue
        n_candidates = 1
        candidates[0] = libs[lib_start[g]]
        for i in range(stone_start[g], stone_start[g + 1]):
            s = stones[i]
            for k in range(4):
                n = neighbours[s, k]
                if n < 0:
                    break
                if board[n] == enemy:
                    h = group_of[n]
                    if lib_start[h + 1] - lib_start[h] == 1:
                        candidates[n_candidates] = libs[lib_start[h]]
                        n_candidates += 1
        for c in range(n_candidates):
            m = candidates[c]
            if not legal[m] or out[m, _OFF_LADDER_ESCAPE]:
                continue
            trial = board.copy()
            if _play(trial, neighbours, m, player, scratch, stamps) < 0:
                continue
            n_libs = _liberty_count(trial, neighbours, p, scratch, stamps)
            if n_libs >= 3:
                out[m, _OFF_LADDER_ESCAPE] = 1
            elif n_libs == 2:
                if not _ladder_captured(trial, neighbours, p, True, boards, scratch, stamps):
                    out[m, _OFF_LADDER_ESCAPE] = 1


@njit(cache=True)
def _is_own_eye(board, neighbours, diagonals, m, player, enemy):
    for k in range(4):
        n = neighbours[m, k]
        if n < 0:
            break
        if board[n] != player:
            return False
    enemy_diagonals = 0
    on_edge = False
    for k in range(4):
        d = diagonals[m, k]
        if d < 0:
            on_edge = True
            break
        if board[d] == enemy:
            enemy_diagonals += 1
    return enemy_diagonals < (1 if on_edge else 2)


# Scratch rows shared by the helpers below, allocated once per position:
# flood-fill marks, stone list, liberty list, a second stone/liberty list, and
# marks of attacker groups already examined. `stamps` holds the current mark
# values, so no array is cleared between flood fills.
_MARK, _STONES, _LIBS, _OTHER_STONES, _OTHER_LIBS, _SEEN = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def _new_scratch(points):
    return np.zeros((6, points), np.int32), np.zeros(2, np.int64)


@njit(cache=True)
def _group(board, neighbours, start, stone_list, liberty_list, scratch, stamps):
    """Flood-fill the group at `start`; returns (stones, liberties) counts, lists filled."""
    stamps[0] += 1
    stamp = stamps[0]
    mark = scratch[_MARK]
    colour = board[start]
    mark[start] = stamp
    stone_list[0] = start
    n_stones = 1
    n_libs = 0
    i = 0
    while i < n_stones:
        s = stone_list[i]
        i += 1
        for k in range(4):
            n = neighbours[s, k]
            if n < 0:
                break
            if mark[n] == stamp:
                continue
            if board[n] == colour:
                mark[n] = stamp
                stone_list[n_stones] = n
                n_stones += 1
            elif board[n] == 0:
                mark[n] = stamp
                liberty_list[n_libs] = n
                n_libs += 1
    return n_stones, n_libs


@njit(cache=True)
def _liberty_count(board, neighbours, start, scratch, stamps):
    return _group(board, neighbours, start, scratch[_OTHER_STONES], scratch[_OTHER_LIBS], scratch, stamps)[1]


@njit(cache=True)
def _play(board, neighbours, m, colour, scratch, stamps):
    """Play on a scratch board (no ko rule); returns stones captured, or -1 if illegal."""
    if board[m] != 0:
        return -1
    board[m] = colour
    enemy = BLACK + WHITE - colour
    stone_list = scratch[_OTHER_STONES]
    liberty_list = scratch[_OTHER_LIBS]
    captured = 0
    for k in range(4):
        n = neighbours[m, k]
        if n < 0:
            break
        if board[n] == enemy:
            n_stones, n_libs = _group(board, neighbours, n, stone_list, liberty_list, scratch, stamps)
            if n_libs == 0:
                for i in range(n_stones):
                    board[stone_list[i]] = 0
                captured += n_stones
    if captured == 0 and _group(board, neighbours, m, stone_list, liberty_list, scratch, stamps)[1] == 0:
        board[m] = 0
        return -1
    return captured


@njit(cache=True)
def _ladder_moves(board, neighbours, target, attacker_to_move, moves, scratch, stamps):
    """Candidate moves at a ladder node; returns how many were written to `moves`.

    Attacker: ataris at the target's liberties. Defender: extend at the single
    liberty, or capture a neighbouring attacker group that is in atari.
    """
    stone_list = scratch[_STONES]
    liberty_list = scratch[_LIBS]
    n_stones, n_libs = _group(board, neighbours, target, stone_list, liberty_list, scratch, stamps)
    if attacker_to_move:
        for j in range(n_libs):
            moves[j] = liberty_list[j]
        return n_libs
    n_moves = 1
    moves[0] = liberty_list[0]
    attacker = BLACK + WHITE - board[target]
    other_stones = scratch[_OTHER_STONES]
    other_libs = scratch[_OTHER_LIBS]
    seen = scratch[_SEEN]
    stamps[1] += 1
    examined = stamps[1]
    for i in range(n_stones):
        s = stone_list[i]
        for k in range(4):
            n = neighbours[s, k]
            if n < 0:
                break
            if board[n] != attacker or seen[n] == examined:
                continue
            n_other, n_other_libs = _group(board, neighbours, n, other_stones, other_libs, scratch, stamps)
            for j in range(n_other):
                seen[other_stones[j]] = examined
            if n_other_libs == 1 and n_moves < moves.shape[0]:
                duplicate = False
                for j in range(n_moves):
                    if moves[j] == other_libs[0]:
                        duplicate = True
                if not duplicate:
                    moves[n_moves] = other_libs[0]
                    n_moves += 1
    return n_moves


@njit(cache=True)
def _ladder_captured(board, neighbours, target, attacker_to_move, boards, scratch, stamps):
    """True if the group at `target` is caught in a ladder (see module docstring).

    Attacker to move: the target has 2 liberties and the attacker must atari.
    Defender to move: the target has 1 liberty. An AND-OR search with an
    explicit stack (numba's cache cannot hold recursive functions); a node
    past the depth or node bounds counts as "not captured". `boards` is a
    (LADDER_MAX_DEPTH + 1, points) work array: one board per ply.
    """
    moves = np.empty((LADDER_MAX_DEPTH + 1, 16), np.int32)
    n_moves = np.zeros(LADDER_MAX_DEPTH + 1, np.int32)
    next_move = np.zeros(LADDER_MAX_DEPTH + 1, np.int32)
    defender = board[target]
    attacker = BLACK + WHITE - defender
    boards[0] = board
    n_moves[0] = _ladder_moves(boards[0], neighbours, target, attacker_to_move, moves[0], scratch, stamps)
    nodes = 1
    depth = 0
    # result: -1 none pending, 0 child not captured, 1 child captured.
    result = -1
    while True:
        attacker_node = (depth % 2 == 0) == attacker_to_move
        if result >= 0:
            # One capturing answer settles an attacker node; one escaping
            # answer settles a defender node. Otherwise try the next move.
            if (attacker_node and result == 1) or (not attacker_node and result == 0):
                if depth == 0:
                    return result == 1
                depth -= 1
                continue
            result = -1
        if next_move[depth] >= n_moves[depth]:
            # Attacker found no capture; or the defender found no escape.
            result = 0 if attacker_node else 1
            if depth == 0:
                return result == 1
            depth -= 1
            continue
        move = moves[depth, next_move[depth]]
        next_move[depth] += 1
        child = boards[depth + 1]
        child[:] = boards[depth]
        if _play(child, neighbours, move, attacker if attacker_node else defender, scratch, stamps) < 0:
            continue
        liberties = _liberty_count(child, neighbours, target, scratch, stamps)
        if attacker_node:
            if liberties != 1:
                continue
        else:
            if liberties >= 3:
                result = 0
                continue
            if liberties <= 1:
                continue
        nodes += 1
        if depth + 1 >= LADDER_MAX_DEPTH or nodes > LADDER_MAX_NODES:
            result = 0  # unproven: treat as not captured
            continue
        depth += 1
        n_moves[depth] = _ladder_moves(boards[depth], neighbours, target, not attacker_node, moves[depth],
                                       scratch, stamps)
        next_move[depth] = 0
