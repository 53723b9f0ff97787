"""apps/go/visualize.py on a tiny random policy model of the real shape: 48 planes in, 361 moves out."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from apps.go import visualize as gv  # noqa: E402
from apps.go.features import NUM_PLANES, features  # noqa: E402
from apps.go.go import from_ascii  # noqa: E402
from shared.builders import ConvSpec, conv_stack  # noqa: E402

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
