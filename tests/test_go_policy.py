"""Policy network: architecture (no pooling, 5x5/3x3/1x1, per-point bias), parameter
count, serialization, symmetry ensemble, move choice (never fills own eye, passes
when nothing sensible), and a small net that must learn."""
import keras
import numpy as np
import pytest

from conftest_go import random_game
from apps.go.features import features, symmetries
from apps.go.go import BLACK, WHITE, from_ascii
from apps.go.gtp_engine import GtpEngine
from apps.go.models import PRESETS, PointBias, build_policy
from apps.go.policy import PolicyPlayer, _inverse_symmetries, _on_batch, move_probabilities
from shared.errors import UserError
from shared.modelio import load_model, save_model


def test_alphago_preset_has_3_88m_parameters():
    model = build_policy(*PRESETS["alphago"])
    # 5x5x48x192+192 + 11 x (3x3x192x192+192) + 192 (1x1, no bias) + 361 per-point biases
    assert model.count_params() == 230_592 + 11 * 331_968 + 192 + 361 == 3_882_793


def test_layers_kernels_and_no_pooling():
    model = build_policy(5, 16)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3), (3, 3), (1, 1)]
    assert all(c.padding == "same" and c.strides == (1, 1) for c in convs)
    assert convs[-1].filters == 1 and not convs[-1].use_bias
    assert not any("pool" in type(layer).__name__.lower() for layer in model.layers)
    assert all(layer.output.shape[1:3] == (19, 19) for layer in model.layers if layer.name.startswith("conv"))
    probs = np.asarray(model(np.zeros((2, 19, 19, 48), np.float32)))
    assert probs.shape == (2, 361)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def _bias_only_model(size, favourite, strength=20.0):
    """A net whose convolutions are zero, so its output is softmax(per-point bias)."""
    model = build_policy(3, 4, board_size=size)
    for layer in model.layers:
        if layer.weights and not isinstance(layer, PointBias):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    bias = np.zeros((size, size, 1), np.float32)
    bias[favourite] = strength
    model.get_layer("point_bias").set_weights([bias])
    return model


def test_per_point_bias_selects_a_point_and_survives_saving(tmp_path):
    model = _bias_only_model(19, (3, 15))
    probs = np.asarray(model(np.random.default_rng(0).random((1, 19, 19, 48)).astype("float32")))[0]
    assert probs.argmax() == 3 * 19 + 15 and probs.max() > 0.99
    path = save_model(model, tmp_path / "m.keras", app="go")
    loaded, meta = load_model(path, app="go")
    assert meta["app"] == "go"
    np.testing.assert_allclose(loaded.get_layer("point_bias").get_weights()[0],
                               model.get_layer("point_bias").get_weights()[0])


def test_inverse_symmetries_known_answer():
    # identity, rot90, rot180, rot270, two flips, transpose, anti-transpose: the quarter turns
    # undo each other, the half turn and the four reflections undo themselves
    assert _inverse_symmetries() == [0, 3, 2, 1, 4, 5, 6, 7]


def test_ensemble_is_equivariant_under_board_symmetries():
    keras.utils.set_random_seed(0)
    model = build_policy(3, 8)
    position, _ = random_game(19, 40, seed=3)[-1]
    planes = features(position)[None].astype(np.float32)
    base = move_probabilities(model, planes, ensemble=True)[0].reshape(19, 19)
    np.testing.assert_allclose(base.sum(), 1.0, rtol=1e-5)
    for transform in symmetries():
        moved = move_probabilities(model, _on_batch(transform, planes), ensemble=True)[0].reshape(19, 19)
        np.testing.assert_allclose(moved, transform(base), atol=1e-6)


EYE_BOARD = """
. X . X . X . X .
X X X X X X X X X
. X . X . X . X .
X X X X X X X X X
. X . X . X . X .
X X X X X X X X X
. X . X . X . X .
X X X X X X X X X
. X . X . X . X .
"""


def test_genmove_never_fills_its_own_eye_and_passes_when_nothing_sensible():
    position = from_ascii(EYE_BOARD, to_play=BLACK)
    for eye in [(0, 0), (4, 4), (8, 8)]:
        player = PolicyPlayer(_bias_only_model(9, eye))
        assert player(position, BLACK) is None  # every empty point is a black eye
    # White may play there (suicide is illegal, so white has no legal move at all): also a pass.
    assert PolicyPlayer(_bias_only_model(9, (0, 0)))(position, WHITE) is None
    # Opening one eye into a 3-point region leaves only those 3 points sensible, whatever the net prefers.
    open_board = from_ascii(EYE_BOARD.replace("X X X X X X X X X\n. X . X . X . X .\n", "X X X X X X X X X\n. X . X . X . . .\n", 1))
    choice = PolicyPlayer(_bias_only_model(9, (4, 4)))(open_board, BLACK)
    assert choice in [(6, 6), (6, 7), (6, 8)] and open_board.is_legal(choice)


def test_genmove_takes_the_most_probable_sensible_move_and_samples_only_sensible_ones():
    position = from_ascii(EYE_BOARD.replace(". X . X . X . X .\n", ". X . . . . . . .\n", 1))
    player = PolicyPlayer(_bias_only_model(9, (8, 6)))
    assert player(position, BLACK) == (8, 6)
    engine = GtpEngine(move_chooser=PolicyPlayer(_bias_only_model(9, (8, 6))))
    assert engine.handle("boardsize 9") == "= \n\n".replace(" \n", "\n")
    assert engine.handle("genmove b") == "= G9\n\n"
    # A network for 9x9 asked for 13x13: GTP's "unacceptable size", and the game stays 9x9.
    assert engine.handle("boardsize 13") == "? unacceptable size (the policy network plays on 9x9 only)\n\n"
    assert engine.handle("boardsize 9") == "=\n\n" and engine.handle("genmove b") == "= G9\n\n"
    sampler = PolicyPlayer(_bias_only_model(9, (0, 0), strength=0.0), temperature=1.0, seed=1)
    choices = {sampler(position, BLACK) for _ in range(40)}
    sensible = {(8, c) for c in range(2, 9)}
    assert choices <= sensible and len(choices) > 2


def test_the_ensemble_player_moves_by_the_policy_averaged_over_symmetries():
    # A corner point one net rates highest is split eight ways by the symmetries; the centre, which
    # every symmetry maps to itself, keeps its probability and wins the averaged policy.
    model = _bias_only_model(9, (1, 2), strength=5.0)
    bias = model.get_layer("point_bias").get_weights()[0]
    bias[4, 4] = 4.5
    model.get_layer("point_bias").set_weights([bias])
    empty = from_ascii("\n".join([". " * 9] * 9))
    assert PolicyPlayer(model)(empty, BLACK) == (1, 2)
    assert PolicyPlayer(model, ensemble=True)(empty, BLACK) == (4, 4)


WALLS = "\n".join([". . . X . O . . ."] * 9)  # black's area left, white's right, dame in column E


def test_after_the_opponent_passes_only_open_points_are_played_then_pass():
    for preferred in [(4, 1), (4, 7)]:  # inside black's own area / inside white's
        player = PolicyPlayer(_bias_only_model(9, preferred))
        position = from_ascii(WALLS, to_play=BLACK)
        assert player(position, BLACK) == preferred  # mid-game: the net's choice stands
        position.play(None, WHITE)
        assert player(position, BLACK)[1] == 4  # white passed: fill dame, not territory
    filled = from_ascii(WALLS.replace("X . O", "X X O"), to_play=WHITE)
    filled.play(None, WHITE)
    assert PolicyPlayer(_bias_only_model(9, (4, 1)))(filled, BLACK) is None  # nothing open is left


def test_under_japanese_rules_the_player_answers_a_pass_with_a_pass():
    # Territory scoring: dame are worth nothing and a stone in anyone's territory costs a point.
    player = PolicyPlayer(_bias_only_model(9, (4, 4)), rules="japanese")  # prefers the dame point E5
    position = from_ascii(WALLS, to_play=BLACK)
    assert player(position, BLACK) == (4, 4)  # mid-game: the net's choice stands
    position.play(None, WHITE)
    assert player(position, BLACK) is None
    assert PolicyPlayer(_bias_only_model(9, (4, 4)))(position, BLACK) == (4, 4)  # chinese: fills the dame
    with pytest.raises(UserError, match="--rules must be one of chinese, japanese"):
        PolicyPlayer(_bias_only_model(9, (4, 4)), rules="aga")


def test_kgs_rules_sets_the_players_scoring_over_gtp():
    player = PolicyPlayer(_bias_only_model(9, (4, 4)))
    engine = GtpEngine(move_chooser=player)
    reply = lambda command: engine.handle(command).strip()
    assert reply("boardsize 9") == "=" and reply("known_command kgs-rules") == "= true"
    assert reply("kgs-rules japanese") == "=" and player.rules == "japanese"
    for command in ["play b A1", "play w J9", "play b A2", "play w pass"]:
        assert reply(command) == "="
    assert reply("genmove b") == "= pass"  # territory scoring: answer the pass
    assert reply("undo") == "=" and reply("kgs-rules new_zealand") == "=" and player.rules == "chinese"
    assert reply("genmove b") == "= E5"  # area scoring: the open point both colours touch
    assert reply("kgs-rules go_school").startswith("? unknown rules")
    assert reply("known_command kgs-rules") == "= true"
    assert GtpEngine().handle("known_command kgs-rules").strip() == "= false"  # no player, no rules to set


def test_a_small_net_learns_to_predict_moves():
    keras.utils.set_random_seed(1)
    planes, moves = [], []
    for seed in range(6):
        for position, move in random_game(9, 12, seed)[:-1]:
            planes.append(features(position))
            moves.append(move[0] * 9 + move[1])
    x, y = np.stack(planes).astype(np.float32), np.array(moves)
    model = build_policy(3, 32, board_size=9)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[1]
    model.fit(x, y, epochs=60, batch_size=24, verbose=0)
    after = model.evaluate(x, y, verbose=0)[1]
    assert before < 0.1 and after > 0.6, (before, after)


def test_residual_and_mobile_policies_by_hand():
    """Both keep the 19x19 (here 9x9) grid, the 5x5 first layer and the policy head."""
    stem = 25 * 48 * 8 + 4 * 8  # 5x5 over 48 planes, no bias (batch norm follows)
    head = 8 + 81  # 1x1 to one plane without bias, one bias per point
    residual = build_policy(4, 8, board_size=9, arch="residual")  # one unit of two 3x3s
    assert residual.count_params() == stem + 2 * (9 * 8 * 8 + 4 * 8) + head
    mobile = build_policy(4, 8, board_size=9, arch="mobile")  # two inverted residuals, expansion 6
    per_block = 8 * 48 + 4 * 48 + 9 * 48 + 4 * 48 + 48 * 8 + 4 * 8
    assert mobile.count_params() == stem + 2 * per_block + head
    for model in (residual, mobile):
        assert not any("pool" in type(layer).__name__.lower() for layer in model.layers)
        assert all(layer.output.shape[1:3] == (9, 9) for layer in model.layers
                   if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)))
    with pytest.raises(ValueError, match="unknown architecture"):
        build_policy(4, 8, arch="dense")


@pytest.mark.parametrize("arch", ["residual", "mobile"])
def test_the_variants_learn_to_predict_moves(arch):
    keras.utils.set_random_seed(1)
    planes, moves = [], []
    for seed in range(6):
        for position, move in random_game(9, 12, seed)[:-1]:
            planes.append(features(position))
            moves.append(move[0] * 9 + move[1])
    x, y = np.stack(planes).astype(np.float32), np.array(moves)
    model = build_policy(4, 32, board_size=9, arch=arch)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=60, batch_size=24, verbose=0)
    # training mode: batch statistics, as in the fit (the running averages lag a run this short)
    predicted = np.asarray(model(x, training=True)).argmax(1)
    assert np.mean(predicted == y) > 0.6
