"""Audio loading: any rate/channels, bad input, streaming long recordings."""
import numpy as np
import pytest
import soundfile as sf

from apps.speech import audio
from shared.errors import UserError
from tests.conftest import needs_data


def _tone(seconds, rate, freq=440.0, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    y = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([y] * channels, axis=1) if channels > 1 else y


@pytest.mark.parametrize("suffix,fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG")])
def test_any_format_rate_and_channels_become_mono_at_target_rate(tmp_path, suffix, fmt):
    path = tmp_path / f"stereo{suffix}"
    stereo = _tone(0.5, 44100, channels=2)
    stereo[:, 1] *= 0.0  # the mix-down must average the channels: half the amplitude
    sf.write(path, stereo, 44100, format=fmt)
    y = audio.load_audio(path, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 8000) <= 2
    assert 0.2 < np.abs(y).max() < 0.3


def test_fix_length_centres_short_clips_and_crops_long_ones():
    y = np.arange(1, 5, dtype=np.float32)
    assert audio.fix_length(y, 8).tolist() == [0, 0, 1, 2, 3, 4, 0, 0]
    assert audio.fix_length(np.arange(10, dtype=np.float32), 4).tolist() == [3, 4, 5, 6]


def test_bad_inputs_give_clear_errors(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    with pytest.raises(UserError, match="not a readable audio file"):
        audio.load_audio(text, 16000)
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3" + bytes(100))
    with pytest.raises(UserError, match="unsupported audio format '.mp3'"):
        audio.load_audio(mp3, 16000)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(UserError, match="empty"):
        audio.load_audio(empty, 16000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    with pytest.raises(UserError, match="silent"):
        audio.load_audio(silent, 16000)
    with pytest.raises(UserError, match="not found"):
        audio.load_audio(tmp_path / "missing.wav", 16000)
    with pytest.raises(UserError, match="is a folder"):
        audio.load_audio(tmp_path, 16000)
    short = tmp_path / "short.wav"
    sf.write(short, _tone(0.001, 8000), 8000)  # 8 samples
    with pytest.raises(UserError, match="short.wav: only 1 ms of audio; at least 50 ms"):
        audio.load_audio(short, 8000)
    broken = _tone(2.0, 8000)
    broken[100] = np.nan
    sf.write(tmp_path / "nan.wav", broken, 8000, subtype="FLOAT")
    for rate in (8000, 16000):  # at its own rate and resampled (librosa refuses non-finite input)
        with pytest.raises(UserError, match="nan.wav: the audio holds NaN"):
            audio.load_audio(tmp_path / "nan.wav", rate)
    with pytest.raises(UserError, match=r"NaN or infinite samples \(in the window at 0.0 s\)"):
        list(audio.stream_windows(tmp_path / "nan.wav", 16000, window_s=1.0, hop_s=0.5))
    for hop in (0, -0.5, 1.5):
        with pytest.raises(UserError, match="--hop must be more than 0 and at most the 1 s window"):
            list(audio.stream_windows(tmp_path / "nan.wav", 16000, window_s=1.0, hop_s=hop))


def test_stream_windows_cover_a_long_file_with_bounded_windows(tmp_path):
    path = tmp_path / "long.flac"
    rate, seconds = 22050, 61.3
    with sf.SoundFile(path, "w", rate, 2, format="FLAC") as out:  # written in pieces, like a real long file
        for _ in range(int(seconds)):
            out.write(_tone(1.0, rate, channels=2))
        out.write(_tone(seconds - int(seconds), rate, channels=2))
    windows = list(audio.stream_windows(path, 8000, window_s=1.0, hop_s=0.5))
    starts = [s for s, _ in windows]
    assert all(len(y) == 8000 for _, y in windows)
    assert starts[0] == 0 and starts[1] == pytest.approx(0.5, abs=1e-3)
    assert starts[-1] + 1.0 >= seconds - 1e-3 and starts[-1] < seconds
    assert len(windows) == len(np.arange(0, seconds - 1.0 + 0.5, 0.5))


@needs_data("speech", "nltk_timit_sample_14speakers.tar.gz")
def test_the_nist_sphere_file_named_wav_is_read():
    from apps.speech import data
    root = data.default_root("timit")
    y = audio.load_audio(root / "timit" / "dr1-fvmh0" / "si836.wav", 16000)
    assert len(y) > 16000 and np.abs(y).max() > 0.01
