"""Synthetic voices: reproducible voice sampling, the datasets' layouts, and real clips
from the espeak-ng / flite engines that the dataset readers accept."""
import shutil
import subprocess

import numpy as np
import pytest

from apps.speech import audio, data, synth
from shared.errors import UserError
from tests.conftest import needs_program, requires

needs_espeak = needs_program("espeak-ng", "apt-get install espeak-ng")
needs_mbrola_us1 = requires(
    shutil.which("espeak-ng") is None or shutil.which("mbrola") is None
    or not (synth.MBROLA_DIR / "us1" / "us1").is_file(),
    "espeak-ng, mbrola or its us1 voice is not installed (apt-get install espeak-ng mbrola mbrola-us1, "
    "from Debian's contrib and non-free sections)")


def test_voices_are_reproducible_distinct_and_in_range():
    voices = synth.sample_voices(300, seed=3)
    assert voices == synth.sample_voices(300, seed=3)
    assert len({v.name for v in voices}) == 300
    assert not {v.name for v in voices} & {v.name for v in synth.sample_voices(300, seed=4)}
    assert {v.engine for v in voices} == {"espeak-ng", "flite"}
    for v in voices:
        if v.engine == "espeak-ng":
            assert 15 <= v.pitch <= 75 and 110 <= v.speed <= 210 and v.voice.split("+")[0] in synth.ESPEAK_ACCENTS
        else:
            assert 80 <= v.pitch <= 180 and 0.8 <= v.speed <= 1.3 and v.voice in synth.FLITE_VOICES
    assert {v.engine for v in synth.sample_voices(20, engines=("espeak-ng",))} == {"espeak-ng"}


def test_mbrola_voices_take_their_share_and_speak_through_espeak_ng():
    mixed = synth.sample_voices(300, seed=3, engines=("espeak-ng", "flite", "mbrola"))
    counts = {e: sum(v.engine == e for v in mixed) for e in synth.ALL_ENGINES}
    assert 60 <= counts["mbrola"] <= 120 and 15 <= counts["flite"] <= 50  # shares 0.3 and 0.1
    for v in synth.sample_voices(100, seed=3, engines=("mbrola",)):
        assert v.engine == "mbrola" and v.voice in synth.MBROLA_VOICES and 20 <= v.pitch <= 80
        command = v.command("six", "x.wav")
        assert command[:3] == ["espeak-ng", "-v", f"mb-{v.voice}"] and command[-1] == "six"
    assert {v.engine for v in synth.sample_voices(50, engines=("flite", "mbrola"))} == {"flite", "mbrola"}


def test_a_missing_mbrola_voice_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr(synth, "MBROLA_DIR", tmp_path / "no-mbrola-here")
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    voice = synth.Voice("mbrola0000s0", "mbrola", "de3-en", 50, 150)
    with pytest.raises(UserError, match=r"apt-get install mbrola-de3 \(Debian's contrib"):
        synth.check_engines(("mbrola",), [voice])
    synth.check_engines(("espeak-ng",), [voice])  # an engine that is not asked for is not checked


@needs_mbrola_us1
def test_mbrola_voices_read_back_as_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setattr(synth, "MBROLA_VOICES", ["us1"])  # the one voice CI installs
    written, errors = synth.synthesise("fsdd", tmp_path, 2, seed=5, engines=("mbrola",), progress=False)
    assert written == 20 and errors == []
    items = data.fsdd_items(tmp_path)
    assert sorted(label for _, label, _ in items) == sorted(list(range(10)) * 2)
    for path, label, _ in items:
        y = audio.load_audio(path, 16000)
        assert 0.15 < len(y) / 16000 < 2.0 and np.sqrt(np.mean(y ** 2)) > 1e-3
    assert "mbrola0000s5,mbrola,us1," in (tmp_path / "voices.csv").read_text()


def test_foreign_accents_are_drawn_only_when_asked():
    assert not any(v.phonemes_from for v in synth.sample_voices(200, seed=3))
    voices = synth.sample_voices(200, seed=3, engines=("espeak-ng",), foreign_share=0.5)
    foreign = [v for v in voices if v.phonemes_from]
    assert 70 <= len(foreign) <= 130
    for v in foreign:
        assert v.voice.split("+")[0] in synth.ESPEAK_FOREIGN and v.phonemes_from in synth.ESPEAK_ACCENTS
    assert all(v.phonemes_from for v in synth.sample_voices(10, engines=("espeak-ng",), foreign_share=1.0))


@needs_espeak
def test_a_foreign_voice_speaks_the_english_phonemes_with_its_own_vowels():
    # German has no /ʌ/: "one" is spoken /wan/, as a German learner says it
    assert synth.accented_phonemes("de", "en-us", "one") == "w'an"
    # a sound German has is kept as English has it
    assert synth.accented_phonemes("de", "en-us", "seven") == synth._espeak_output("-v", "en-us", "-x", "seven")
    # every digit renders in every foreign table (no word falls back to plain English)
    assert all(synth.accented_phonemes(lang, "en-gb", word) for lang in synth.ESPEAK_FOREIGN
               for word in synth.FSDD_WORDS)
    voice = synth.Voice("espeak0001s0", "espeak-ng", "de+m3", 50, 150, phonemes_from="en-us")
    assert voice.command("one", "x.wav")[-1] == "[[w'an]]" and voice.command("one", "x.wav")[2] == "de+m3"
    # a word whose sounds the table cannot render is said by the English voice with the same variant
    fallback = synth.Voice("espeak0002s0", "espeak-ng", "nl+m3", 50, 150, phonemes_from="en-us")
    assert synth.accented_phonemes("nl", "en-us", "backward") is None
    command = fallback.command("backward", "x.wav")
    assert command[2] == "en-us+m3" and command[-1] == "backward"


def test_plans_follow_the_dataset_layouts(tmp_path):
    voices = synth.sample_voices(4, seed=1)
    fsdd = synth.clip_plan("fsdd", voices)
    assert len(fsdd) == 40
    for voice, word, rel in fsdd:
        match = data._FSDD_NAME.match(rel.name)
        assert match and synth.FSDD_WORDS[int(match.group(1))] == word and match.group(2) == voice.name
    commands = synth.clip_plan("commands", voices, unknown_per_voice=3)
    assert len(commands) == 4 * (10 + 3)
    for voice, word, rel in commands:
        folder = rel.parent.name
        assert data._SPEAKER.search(rel.name).group(1) == synth._hex_name(voice.name)
        if folder == "_unknown_":
            assert word in synth.COMMANDS_UNKNOWN_WORDS and rel.name.startswith(word + "_")
        else:
            assert folder == word and word in data.COMMANDS_KEYWORDS
    with pytest.raises(UserError, match="timit"):
        synth.clip_plan("timit", voices)


def test_a_missing_engine_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="apt-get install espeak-ng flite"):
        synth.synthesise("fsdd", tmp_path, 1)


@needs_espeak
@needs_program("flite", "apt-get install flite")
def test_synthesised_voices_read_back_as_the_dataset(tmp_path):
    engines = ("espeak-ng", "flite")
    written, errors = synth.synthesise("fsdd", tmp_path, 3, seed=7, engines=engines, progress=False)
    assert written == 30 and errors == []
    items = data.fsdd_items(tmp_path)
    assert sorted(label for _, label, _ in items) == sorted(list(range(10)) * 3)
    assert {speaker for *_, speaker in items} == {v.name for v in synth.sample_voices(3, seed=7, engines=engines)}
    lengths = {}
    for path, label, _ in items:
        y = audio.load_audio(path, 16000)
        assert 0.15 < len(y) / 16000 < 2.0 and np.sqrt(np.mean(y ** 2)) > 1e-3
        lengths.setdefault(label, []).append(len(y))
    assert np.mean(lengths[7]) > np.mean(lengths[1])  # "seven" has two syllables, "one" one
    assert (tmp_path / "voices.csv").read_text().count("\n") == 4
    # the same seed writes the same audio
    again = tmp_path / "again"
    synth.synthesise("fsdd", again, 1, seed=7, engines=engines, progress=False)
    first = sorted((tmp_path / "recordings").glob("3_*"))[0]
    assert (again / "recordings" / first.name).read_bytes() == first.read_bytes()


@needs_espeak
def test_commands_voices_read_back_with_their_labels(tmp_path):
    written, errors = synth.synthesise("commands", tmp_path, 2, engines=("espeak-ng",), progress=False)
    assert written == 24 and errors == []
    items = data.commands_items(tmp_path)
    labels = [data.COMMANDS_CLASSES[label] for _, label, _ in items]
    assert sorted(set(labels)) == sorted(data.COMMANDS_KEYWORDS + ["_unknown_"]) and labels.count("_unknown_") == 4
    assert len({speaker for *_, speaker in items}) == 2


@needs_espeak
def test_a_failed_phoneme_lookup_skips_and_reports_the_clip(monkeypatch, tmp_path):
    def broken(*args):
        raise subprocess.CalledProcessError(1, "espeak-ng", stderr="voice table missing")
    synth.accented_phonemes.cache_clear()
    monkeypatch.setattr(synth, "_espeak_output", broken)
    try:
        written, errors = synth.synthesise("fsdd", tmp_path, 2, engines=("espeak-ng",), foreign_share=1.0,
                                           progress=False)
    finally:
        synth.accented_phonemes.cache_clear()
    assert written == 0 and len(errors) == 20 and all("voice table missing" in e for e in errors)
    assert (tmp_path / "voices.csv").is_file()
