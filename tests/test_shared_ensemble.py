"""Ensembles: the output is the members' mean, mismatched members are refused, and the file round-trips."""
import keras
import numpy as np
import pytest

from shared.ensemble import all_layers, average_models, ensemble_files, members
from shared.errors import UserError
from shared.modelio import load_model, save_model


def _member(seed, inputs=6, classes=3):
    keras.utils.set_random_seed(seed)
    x = keras.Input((inputs,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(classes, activation="softmax", name="softmax")(hidden), name="mlp")


def test_output_is_the_mean_of_the_members_and_survives_saving(tmp_path):
    first, second, third = _member(1), _member(2), _member(3)
    x = np.random.default_rng(0).normal(size=(7, 6)).astype("float32")
    expected = np.mean([np.asarray(m(x)) for m in (first, second, third)], axis=0)
    ensemble = average_models([first, second, third])
    np.testing.assert_allclose(np.asarray(ensemble(x)), expected, atol=1e-6)
    assert [m.name for m in members(ensemble)] == ["member1_mlp", "member2_mlp", "member3_mlp"]
    assert len(all_layers(ensemble)) == 1 + 3 * 3 + 1  # input, each member's input/hidden/softmax, average
    save_model(ensemble, tmp_path / "ensemble.keras", app="test")
    loaded, _ = load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, atol=1e-6)
    assert members(loaded) and members(_member(4)) == []


def test_mismatched_members_are_refused():
    with pytest.raises(UserError, match="at least 2"):
        average_models([_member(1)])
    with pytest.raises(UserError, match="model 2 .* takes"):
        average_models([_member(1), _member(2, inputs=4)])
    with pytest.raises(UserError, match="model 2 .* gives"):
        average_models([_member(1), _member(2, classes=2)])


def test_an_ensemble_given_as_a_member_adds_its_members_with_equal_weights(tmp_path):
    nets = [_member(seed) for seed in (1, 2, 3)]
    x = np.random.default_rng(0).normal(size=(7, 6)).astype("float32")
    expected = np.mean([np.asarray(m(x)) for m in nets], axis=0)
    for i, net in enumerate(nets):
        save_model(net, tmp_path / f"net{i}.keras", app="test")
    ensemble_files([tmp_path / "net0.keras", tmp_path / "net1.keras"], tmp_path / "pair.keras", app="test", same=())
    ensemble_files([tmp_path / "pair.keras", tmp_path / "net2.keras"], tmp_path / "three.keras", app="test", same=())
    three, _ = load_model(tmp_path / "three.keras")
    assert [m.name for m in members(three)] == ["member1_mlp", "member2_mlp", "member3_mlp"]
    np.testing.assert_allclose(np.asarray(three(x)), expected, atol=1e-6)  # not (mean(1, 2) + 3) / 2


def test_members_that_read_different_inputs_average_in_one_model(tmp_path):
    nets = [_member(1), _member(2, inputs=4), _member(3)]
    x6, x4 = (np.random.default_rng(0).normal(size=(5, n)).astype("float32") for n in (6, 4))
    ensemble = average_models(nets, reads=[0, 1, 0])
    assert [tuple(i.shape[1:]) for i in ensemble.inputs] == [(6,), (4,)]
    expected = np.mean([np.asarray(nets[0](x6)), np.asarray(nets[1](x4)), np.asarray(nets[2](x6))], axis=0)
    np.testing.assert_allclose(np.asarray(ensemble([x6, x4])), expected, atol=1e-6)
    with pytest.raises(UserError, match="model 3 .* takes .* model 1"):  # readers of one input agree
        average_models([_member(1), _member(2, inputs=4), _member(3, inputs=4)], reads=[0, 1, 0])
    # from files: a key of the preprocessing decides which input each model reads
    for i, (net, width) in enumerate(zip(nets, (6, 4, 6))):
        save_model(net, tmp_path / f"net{i}.keras", app="test", preprocessing={"width": width})
    ensemble_files([tmp_path / f"net{i}.keras" for i in range(3)], tmp_path / "mixed.keras", app="test", same=(),
                   input_of=lambda meta: meta["preprocessing"]["width"])
    mixed, _ = load_model(tmp_path / "mixed.keras")
    np.testing.assert_allclose(np.asarray(mixed([x6, x4])), expected, atol=1e-6)
    with pytest.raises(UserError, match="2 inputs; give its members"):
        ensemble_files([tmp_path / "mixed.keras", tmp_path / "net0.keras"], tmp_path / "bad.keras", app="test",
                       same=())
