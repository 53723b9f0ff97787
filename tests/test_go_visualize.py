"""apps/go/visualize.py on a tiny random policy model of the real shape: 48 planes in, 361 moves out."""
import numpy as np
import pytest

import keras

from apps.go import visualize as gv  # noqa: E402
from apps.go.features import NUM_PLANES, features  # noqa: E402
from apps.go.go import from_ascii  # noqa: E402
from shared.builders import ConvSpec, conv_stack  # noqa: E402
from conftest import png_sizes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def policy():
    """Conv 5x5, conv 3x3, 1x1 conv to one plane, flatten, softmax: AlphaGo's policy shape."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((19, 19, NUM_PLANES), name="input")
    x = conv_stack(inputs, [ConvSpec(8, 5), ConvSpec(8, 3)])
    x = keras.layers.Conv2D(1, 1, name="policy_conv")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="policy")(x))


@pytest.fixture(scope="module")
def planes():
    board = "\n".join(["." * 19] * 15 + ["...X.......O....O..", "..X.O.........X....", "...X...........X...",
                                           "." * 19])
    return features(from_ascii(board)).astype(np.float32)


def test_plane_names_follow_the_feature_table():
    names = gv.plane_names()
    assert len(names) == NUM_PLANES == 48
    assert names[0] == "stone_colour 1" and names[3] == "ones" and names[-1] == "zeros"
    assert gv.plane_names(50)[-1] == "plane 49"


def test_policy_heatmap(policy, planes, tmp_path):
    probs = gv.move_probabilities(policy, planes)
    assert probs.shape == (19, 19) and np.isclose(probs.sum(), 1, atol=1e-4)
    path = gv.policy_heatmap_png(policy, planes, tmp_path / "policy.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plane_saliency_matches_finite_differences(policy, planes, tmp_path):
    move = 4 * 19 + 4
    importance, grad = gv.plane_saliency(policy, planes, move)
    assert importance.shape == (NUM_PLANES,) and grad.shape == planes.shape
    assert np.allclose(importance, np.abs(grad).sum((0, 1)))
    # the plane with the largest gradient at some point: nudging it changes the logit as the gradient says
    logits = keras.Model(policy.input, policy.get_layer("flatten").output)
    r, c, p = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
    nudged = planes.copy()
    nudged[r, c, p] += 1e-2
    change = (logits(nudged[None])[0, move] - logits(planes[None])[0, move]).numpy() / 1e-2
    assert np.isclose(change, grad[r, c, p], rtol=0.05, atol=1e-4)
    assert gv.plane_saliency_png(policy, planes, move, tmp_path / "s.png").read_bytes()[:8] == PNG_MAGIC


def test_boards_that_maximize_a_filter(policy, tmp_path):
    layer = "conv2_conv"
    results = gv.maximize_filter_boards(policy, layer, [0, 1], steps=30)
    for k, (x, history) in results.items():
        assert x.shape == (19, 19, NUM_PLANES) and 0 <= x.min() and x.max() <= 1
        assert history[-1] > history[0]
    path = gv.maximize_filter_boards_png(policy, layer, [0], tmp_path / "m.png", steps=10)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_wrong_shape_is_refused():
    model = keras.Sequential([keras.Input((9, 9, 3)), keras.layers.Flatten(), keras.layers.Dense(81)])
    with pytest.raises(ValueError, match="19, 19"):
        gv.move_probabilities(model, np.zeros((9, 9, 3)))


# ---------------------------------------------------------------- `run.py go visualize`

import run  # noqa: E402

from shared.modelio import save_model  # noqa: E402
from shared import visualize as viz  # noqa: E402


@pytest.fixture(scope="module")
def policy_file(policy, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "policy.keras"
    save_model(policy, path, app="go", preprocessing={"features": "alphago48", "board_size": 19})
    return path


# a 21-move opening
OPENING_SGF = (b"(;GM[1]FF[4]SZ[19]KM[6.5]PB[built-in]PW[built-in];B[pd];W[dp];B[pq];W[dd];B[fq];W[cn];"
                b"B[jp];W[qf];B[nc];W[rd];B[qc];W[qi];B[qk];W[oi];B[cf];W[fc];B[db];W[cc];B[ch];W[qn];B[pn])")


@pytest.fixture(scope="module")
def sgf_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sgf") / "opening.sgf"
    path.write_bytes(OPENING_SGF)
    return path


def test_cli_standard_set(policy_file, sgf_file, tmp_path, capsys):
    out = tmp_path / "viz"
    assert run.main(["go", "visualize", "--model", str(policy_file), "--out", str(out), "--sgf", str(sgf_file),
                     "--move", "10", "--steps", "4"]) == 0
    sizes = png_sizes(out)
    assert "explained move" in capsys.readouterr().out
    assert sizes["policy.png"] == (416, 416) and sizes["filters.png"][0] > 0
    names = set(sizes)
    assert {"policy.png", "filters.png", "maximize_moves.png", "activations_conv1_act.png"} <= names
    assert any(n.startswith("planes_") for n in names) and any(n.startswith("gradcam_") for n in names)


def test_cli_choices_and_explained_move(policy_file, sgf_file, tmp_path):
    out = tmp_path / "viz"
    assert run.main(["go", "visualize", "--model", str(policy_file), "--out", str(out), "--sgf", str(sgf_file),
                     "--move", "3", "--explain", "Q16", "--planes", "--gradcam", "--layer", "conv2_conv",
                     "--maximize", "conv2_conv:1", "--maximize", "class:300", "--steps", "3"]) == 0
    assert set(png_sizes(out)) == {"planes_Q16.png", "gradcam_Q16.png", "maximize.png"}


def test_cli_user_errors(policy_file, sgf_file, tmp_path, capsys):
    base = ["go", "visualize", "--model", str(policy_file), "--out", str(tmp_path), "--sgf", str(sgf_file)]
    assert run.main(base + ["--explain", "Z99", "--planes"]) == 2
    assert run.main(base + ["--maximize", "conv9_conv:0"]) == 2
    assert "not in the model" in capsys.readouterr().err
    assert run.main(base + ["--move", "500", "--policy"]) == 2


def test_move_maximization_raises_the_logit_and_l1_empties_the_board(policy):
    move = viz.Target("class", 9 * 19 + 9)
    (plain, history), = gv.maximize_boards(policy, [move], steps=25, regularizers=viz.Regularizers())
    (sparse, _), = gv.maximize_boards(policy, [move], steps=25, regularizers=viz.Regularizers(l1=5000.0))
    assert history[-1] > history[0]
    assert sparse.mean() < 0.5 * plain.mean()


def test_grad_cam_png_and_default_game_fallback(policy, planes, tmp_path, monkeypatch):
    path = gv.grad_cam_png(policy, planes, 3 * 19 + 15, tmp_path / "cam.png")
    assert png_sizes(tmp_path)["cam.png"] == (416, 416) and path.exists()
    import datasets
    from shared.errors import UserError

    def no_data(*args, **kwargs):
        raise UserError("no team data here")
    monkeypatch.setattr(datasets, "fetch_file", no_data)  # never download in tests
    sgf, move = gv.default_game(tmp_path / "pos")
    planes_, played, caption, to_play = gv.position_planes(sgf, move)
    assert planes_.shape == (19, 19, NUM_PLANES) and caption.startswith("game.sgf")
    assert sgf.parent.name == "examples"  # the example game kept in the repository
    from sgfmill import sgf as sgfmill_sgf  # the reference reader: move 60 of the example game
    colour, (row, col) = sgfmill_sgf.Sgf_game.from_bytes(sgf.read_bytes()).get_main_sequence()[move].get_move()
    assert move == 60 and played == row * 19 + col and to_play == {"b": "black", "w": "white"}[colour]
