"""`run.py serve` without a browser: each tab's work functions on the example inputs and on bad
input, the error wrapper that keeps the server answering, and the page built with every tab
(and with a models folder that lacks them). tests/test_serve_browser.py drives the real page."""
import wave

import numpy as np
import pytest

import apps  # noqa: F401  (registers the apps)
from shared import serve
from shared.errors import UserError
from tests.conftest import REPO

EXAMPLES = REPO / "examples"
MODELS = REPO / "models"


def model(name, app):
    return serve.cached_model(MODELS / name, app)


# ---------------------------------------------------------------- Go

class Scripted:
    """A stand-in for PolicyPlayer that plays given moves in turn (None: pass)."""

    def __init__(self, moves):
        self.moves = list(moves)

    def choose(self, position, colour):
        return self.moves.pop(0)


def ko_and_capture_position():
    """Black to play. Lower left: a ko shape, white to capture at C2 (row 1, col 2); upper right:
    a white stone in the corner that black captures at T18."""
    from apps.go.go import BLACK, Position
    position = Position(19)
    position.setup(black=[(1, 1), (2, 2), (0, 2), (1, 3), (18, 17)], white=[(1, 0), (2, 1), (0, 1), (18, 18)],
                   to_play=BLACK)
    return position


def test_go_moves_captures_and_illegal_moves():
    from apps.go import web
    from apps.go.go import BLACK, WHITE
    game = web.new_game(Scripted([(1, 2), (5, 5)]), "black", ko_and_capture_position())
    game = web.play(game, Scripted([(1, 2)]), (17, 18))
    assert "You (black) played T18, capturing 1." in game.note
    assert "The policy (white) answered C2, capturing 1." in game.note
    assert game.position.prisoners == {BLACK: 1, WHITE: 1}
    assert game.explained is not None and game.explained[1:] == (1 * 19 + 2, "white")
    for point, reason in (((1, 1), "B2 is illegal for black: retakes the ko"),
                          ((0, 0), "A1 is illegal for black: suicide"),
                          ((1, 2), "C2 is illegal for black: point is occupied")):
        with pytest.raises(UserError, match=reason):
            web.play(game, Scripted([]), point)
    assert game.position.board[1 * 19 + 2] == WHITE and len(game.earlier) == 1  # refused moves changed nothing
    earlier = web.undo(game)
    assert np.array_equal(earlier.position.board, ko_and_capture_position().board)
    with pytest.raises(UserError, match="nothing to undo"):
        web.undo(earlier)


def test_go_passes_end_the_game_with_a_score():
    from apps.go import web
    game = web.play(web.new_game(Scripted([])), Scripted([None]), None)
    assert game.over and "Both passed: game over, W+7.5 by area" in game.note
    with pytest.raises(UserError, match="the game is over"):
        web.play(game, Scripted([]), (3, 3))


def test_go_board_clicks_map_to_points():
    from apps.go import web
    for point in [(0, 0), (3, 15), (9, 9), (18, 18)]:
        x, y = web.point_pixel(point)
        assert web.click_point(x, y) == point
        assert web.click_point(x + 10, y - 10) == point  # anywhere near the intersection
    assert web.click_point(3, 3) is None and web.click_point(web.PIXELS - 2, web.PIXELS - 2) is None


def test_go_policy_answers_and_explains():
    from apps.go import web
    from apps.go.policy import PolicyPlayer
    policy, _ = model("go_policy.keras", "go")
    game = web.new_game(PolicyPlayer(policy), "white")  # the policy opens as black
    assert game.position.move_number == 1 and "The policy (black) answered" in game.note
    game = web.play(game, PolicyPlayer(policy, ensemble=True), (15, 15))
    assert game.position.move_number == 3
    probabilities, planes = web.policy_view(game, policy, ensemble=True)
    assert probabilities.shape == (361,) and abs(float(probabilities.sum()) - 1) < 1e-3
    top = web.top_moves(probabilities)
    assert len(top) == 5 and list(top.values()) == sorted(top.values(), reverse=True)
    assert web.board_picture(game, probabilities, planes).shape == (web.PIXELS, web.PIXELS, 3)
    assert web.planes_picture(game, policy).ndim == 3


def test_go_sgf_start_and_bad_files(tmp_path):
    from apps.go import web
    from apps.go.go import BLACK
    from apps.go.sgf_wrapper import parse_sgf
    assert web.sgf_moves(EXAMPLES / "game.sgf") == len(parse_sgf((EXAMPLES / "game.sgf").read_bytes()).moves) > 100
    game = web.from_sgf(EXAMPLES / "game.sgf", 61, Scripted([]))  # before move 61: black to play
    assert game.human == BLACK and game.position.move_number == 60 and "game.sgf, before move 61" in game.note
    bad = tmp_path / "broken.sgf"
    bad.write_text("(;GM[1]SZ[19];B[zz])")
    with pytest.raises(UserError, match="broken.sgf: .*bad point"):
        web.sgf_moves(bad)
    small = tmp_path / "small.sgf"
    small.write_text("(;GM[1]SZ[9];B[cc])")
    with pytest.raises(UserError, match="small.sgf: board size 9"):
        web.from_sgf(small, 1, Scripted([]))
    with pytest.raises(UserError, match="past the end"):
        web.from_sgf(EXAMPLES / "game.sgf", 300, Scripted([]))


# ---------------------------------------------------------------- speech

def write_wav(path, samples, rate=16000):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, "<i2").tobytes())
    return path


def test_speech_labels_the_example_words():
    from apps.speech import web
    digits, digits_meta = model("speech_fsdd.keras", "speech")
    result = web.classify(digits, digits_meta, EXAMPLES / "seven.wav")
    assert result["label"] == "7" and abs(sum(result["probabilities"].values()) - 1) < 1e-3
    assert web.saliency_picture(digits, digits_meta, result["clip"]).ndim == 3
    commands, commands_meta = model("speech_commands.keras", "speech")
    assert web.classify(commands, commands_meta, EXAMPLES / "yes.wav")["label"] == "yes"


def test_speech_long_recording_is_cut_around_its_loudest_part(tmp_path):
    from apps.speech import web
    rate = 16000
    word = (np.sin(np.arange(rate // 2) * 0.2) * 8000).astype(np.int16)
    samples = np.concatenate([np.zeros(2 * rate, np.int16), word, np.zeros(rate, np.int16)])
    start, window = web.loudest_window(samples.astype(np.float32), rate, rate // 10)
    assert start <= 2 * rate and start + rate >= 2 * rate + len(word)  # the whole word is inside
    commands, meta = model("speech_commands.keras", "speech")
    result = web.classify(commands, meta, write_wav(tmp_path / "take.wav", samples))
    assert "3.50 s recording: classified the 1 s around its loudest part" in result["note"]
    assert len(result["clip"]) == rate


def test_speech_bad_recordings_say_why(tmp_path):
    from apps.speech import web
    digits, meta = model("speech_fsdd.keras", "speech")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not a recording")
    for path, reason in ((write_wav(tmp_path / "silent.wav", np.zeros(16000)), "silent.wav: the audio is silent"),
                         (write_wav(tmp_path / "empty.wav", []), "empty.wav: the audio is empty"),
                         (not_audio, "notes.wav: not a readable audio file")):
        with pytest.raises(UserError, match=reason):
            web.classify(digits, meta, path)


# ---------------------------------------------------------------- text

def test_text_label_and_word_scores():
    from apps.text import web
    sst2, meta = model("text_sst2.keras", "text")
    result = web.explain(sst2, meta, "a gorgeous , witty , seductive movie .")
    assert result["label"] == "positive" and result["probabilities"]["positive"] > 0.9
    words = [word for word, _ in result["for_against"]]
    assert words == result["tokens"] and "seductive" in words
    scores = np.array([score for _, score in result["for_against"]])
    assert np.abs(scores).max() == pytest.approx(1.0) and scores.min() >= -1
    assert [word for word, _ in result["kept"]] == words and result["ngrams"]
    assert "Kim's CNN" in web.describe_pooling(sst2, meta)
    assert web.spaced([("a", 0.5), ("b", -1)]) == [("a", 0.5), (" ", None), ("b", -1)]
    sst5, meta5 = model("text_sst5.keras", "text")
    assert len(web.explain(sst5, meta5, "a dull , lifeless film .")["probabilities"]) == 5


def test_text_empty_sentence_and_models_without_kmax():
    import keras

    from apps.text import web
    sst2, meta = model("text_sst2.keras", "text")
    for text in ("", "   ", "%%% ###"):
        with pytest.raises(UserError, match="empty sentence|no words left"):
            web.explain(sst2, meta, text)
    plain = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(10, 4),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(2, activation="softmax")])
    assert not web.has_kmax(plain)
    assert "no k-max pooling layer" in web.describe_pooling(plain, {"preprocessing": {"arch": "other"}})


# ---------------------------------------------------------------- image

def test_image_digit_and_drawing():
    from apps.image import web
    mnist, meta = model("image_mnist.keras", "image")
    x = web.model_input(web.to_picture(str(EXAMPLES / "digit7.png")), meta)
    probabilities = web.classify(mnist, meta, x)
    assert max(probabilities, key=probabilities.get) == "7"
    assert web.explanation_picture(mnist, meta, x).ndim == 3
    drawing = np.zeros((280, 280, 4), np.uint8)  # a sketchpad: black strokes on a transparent canvas
    drawing[40:60, 60:220, 3] = 255
    drawing[60:250, 180:200, 3] = 255
    x = web.model_input(web.to_picture({"composite": drawing}, "drawing"), meta, "drawing")
    assert x.shape == (28, 28, 1) and x.max() > 0


def test_image_bad_pictures_say_why(tmp_path):
    from apps.image import web
    mnist, meta = model("image_mnist.keras", "image")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="broken.png: not an image PIL can read"):
        web.to_picture(str(broken))
    with pytest.raises(UserError, match="the drawing is blank"):
        web.model_input(web.to_picture({"composite": np.zeros((280, 280, 4), np.uint8)}, "drawing"), meta,
                        "drawing")
    with pytest.raises(UserError, match="no drawing"):
        web.to_picture({"composite": None}, "drawing")
    with pytest.raises(UserError, match="backbone 'resnet'"):
        web.dream(mnist, meta, str(EXAMPLES / "photo.png"), backbone="resnet")


def test_image_dream_and_style_on_the_model_backbone():
    from apps.image import web
    mnist, meta = model("image_mnist.keras", "image")
    dreamed, line = web.dream(mnist, meta, str(EXAMPLES / "photo.png"), backbone="model", steps=1, size=48)
    assert dreamed.shape[2] == 3 and max(dreamed.shape[:2]) == 48 and line.startswith("dream (")
    styled, line = web.style(mnist, meta, str(EXAMPLES / "photo.png"), str(EXAMPLES / "painting.png"),
                             backbone="model", steps=1, size=48)
    assert styled.shape[2] == 3 and "style loss" in line


# ---------------------------------------------------------------- the server

def test_errors_become_messages_and_the_handler_keeps_answering(capsys):
    import gradio as gr
    calls = []

    def handler(text):
        calls.append(text)
        if text == "bad":
            raise UserError("sentence.txt: empty sentence")
        if text == "bug":
            raise ZeroDivisionError("division by zero")
        return "label", f"ok: {text}"

    wrapped = serve.report_errors(handler, 2)
    skipped, text = wrapped("bad")
    assert text == "**Error:** sentence.txt: empty sentence" and isinstance(skipped, type(gr.skip()))
    assert "ZeroDivisionError: division by zero" in wrapped("bug")[1]
    assert "Traceback" in capsys.readouterr().err
    assert wrapped("fine") == ("label", "ok: fine") and calls == ["bad", "bug", "fine"]


def elem_ids(blocks):
    return {block.elem_id for block in blocks.blocks.values() if getattr(block, "elem_id", None)}


def test_the_page_has_every_tab(tmp_path):
    import gradio as gr
    blocks = serve.build_app(MODELS)
    assert isinstance(blocks, gr.Blocks)
    ids = elem_ids(blocks)
    assert {"tab-go", "tab-speech", "tab-text", "tab-image"} <= ids
    assert {"go-board", "go-top", "go-planes", "speech-audio", "speech-label", "speech-saliency", "text-sentence",
            "text-label", "text-words", "image-sketch", "image-upload", "image-label", "image-explained"} <= ids
    empty = serve.build_app(tmp_path)  # no models: each tab says so instead of failing
    notes = [block.value for block in empty.blocks.values()
             if isinstance(block, gr.Markdown) and "No model for this tab" in (block.value or "")]
    assert len(notes) == 4 and any("go_policy.keras" in note for note in notes)
    with pytest.raises(UserError, match="--apps: no app called chess"):
        serve.build_app(MODELS, ["chess"])


def test_serve_refuses_a_missing_models_folder(tmp_path, capsys):
    import run
    assert run.main(["serve", "--models", tmp_path / "none"]) == 2
    assert f"--models {tmp_path / 'none'}: not a folder" in capsys.readouterr().err
