"""Speech datasets in their original layouts, with speaker-independent splits.

- FSDD: `<digit>_<speaker>_<take>.wav` anywhere under a folder; 10 classes.
- Speech Commands (v0.02 layout): one folder per word; the 10 keywords are
  classes, `_silence_` is silence, `_unknown_` and every other word folder is
  "unknown", `_background_noise_` is only a noise source. The speaker is the
  8-hex token before `_nohash_`; `_silence_` clips have none (their file name
  stands in, as in the MANIFEST's split).
- TIMIT (the NLTK sample or the full corpus): `<speaker>/<sentence>.wav` with
  `.phn` alignments; frames are labelled with the phone at their centre, folded
  from 61 to the standard 39 classes (Lee & Hon 1989); `q` frames are dropped.

A folder, or a `.tar.gz` of one (unpacked once into the cache), works wherever
a data path is asked for. Splits hold whole speakers out, never clips.
"""
import hashlib
import re
import sys
import tarfile
from pathlib import Path

import numpy as np

from shared.errors import UserError

FSDD_CLASSES = [str(d) for d in range(10)]
COMMANDS_KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
COMMANDS_CLASSES = COMMANDS_KEYWORDS + ["_silence_", "_unknown_"]
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")

# Lee & Hon (1989) folding of the 61 TIMIT phones to 39 classes (None: frame dropped).
_FOLD = {"ao": "aa", "ax": "ah", "ax-h": "ah", "axr": "er", "hv": "hh", "ix": "ih", "el": "l",
         "em": "m", "en": "n", "nx": "n", "eng": "ng", "zh": "sh", "ux": "uw", "q": None,
         **{c: "sil" for c in ("pcl", "tcl", "kcl", "bcl", "dcl", "gcl", "h#", "pau", "epi")}}
TIMIT_CLASSES = ["iy", "ih", "eh", "ey", "ae", "aa", "aw", "ay", "ah", "oy", "ow", "uh", "uw", "er",
                 "l", "r", "w", "y", "m", "n", "ng", "ch", "jh", "dh", "b", "d", "dx", "g", "p", "t",
                 "k", "z", "v", "f", "th", "s", "sh", "hh", "sil"]
TIMIT_PHONES_61 = sorted(set(TIMIT_CLASSES) - {"sil"} | set(_FOLD))

DEFAULT_SOURCES = {  # dataset -> registry name of its default data
    "fsdd": "speech-fsdd",
    "commands": "speech-commands-v2-test",
    "timit": "speech-timit-nltk-sample",
}


def fold_phone(phone):
    """The 39-class label of a TIMIT phone (None for the glottal stop `q`)."""
    if phone not in TIMIT_PHONES_61:
        raise ValueError(f"unknown TIMIT phone {phone!r}")
    return _FOLD.get(phone, phone)


def default_root(dataset, data_dir=None):
    """The folder of `dataset`'s default data, fetched and verified through the registry (a
    local copy in a data folder, else the published release)."""
    from datasets.registry import dataset_dir
    return dataset_dir(DEFAULT_SOURCES[dataset], data_dir)


def resolve(path):
    """A folder to scan: `path` itself, or the cache folder a `.tar.gz` is unpacked into."""
    from datasets.registry import cache_dir
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise UserError(f"{path}: no such folder or archive")
    if not tarfile.is_tarfile(path):
        raise UserError(f"{path}: not a folder or a tar archive of the dataset")
    from datasets.registry import build_folder, unpack
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir() / "speech" / "unpacked" / f"{path.name.split('.')[0]}-{key}"
    return build_folder(target, key, lambda folder: unpack(path, folder))


def _audio_files(root):
    return sorted(p for p in Path(root).rglob("*") if p.is_file()
                  and p.name.lower().endswith(AUDIO_SUFFIXES) and not p.name.startswith("."))


_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)\.(wav|flac|ogg)$", re.IGNORECASE)


def _report_ignored(paths, why):
    """Audio files a dataset layout has no label for: named on stderr, not silently dropped."""
    if paths:
        names = ", ".join(p.name for p in paths[:5]) + (", ..." if len(paths) > 5 else "")
        print(f"ignored {len(paths)} audio file(s) {why}: {names}", file=sys.stderr)


def fsdd_items(root):
    """[(path, class index, speaker)] of every FSDD-named file under `root`."""
    items, ignored = [], []
    for path in _audio_files(resolve(root)):
        match = _FSDD_NAME.match(path.name)
        if match:
            items.append((path, int(match.group(1)), match.group(2)))
        else:
            ignored.append(path)
    _report_ignored(ignored, "not named <digit>_<speaker>_<take>.wav")
    if not items:
        raise UserError(f"{root}: no FSDD recordings (<digit>_<speaker>_<take>.wav) found")
    return items


_SPEAKER = re.compile(r"([0-9a-f]{8})_nohash_", re.IGNORECASE)


def commands_label(folder):
    if folder in COMMANDS_KEYWORDS:
        return COMMANDS_CLASSES.index(folder)
    if folder == "_silence_":
        return COMMANDS_CLASSES.index("_silence_")
    return COMMANDS_CLASSES.index("_unknown_")


def commands_items(root):
    """[(path, class index, speaker)] of a Speech Commands folder (class folders)."""
    items, ignored = [], []
    root = resolve(root)
    for path in _audio_files(root):
        folder = path.parent.name
        if folder == "_background_noise_":
            continue
        if path.parent == root:
            ignored.append(path)
            continue
        match = _SPEAKER.search(path.name)
        speaker = match.group(1).lower() if match else path.name
        items.append((path, commands_label(folder), speaker))
    _report_ignored(ignored, "outside a class folder")
    if not items:
        raise UserError(f"{root}: no Speech Commands clips (<class>/<file>.wav) found")
    return items


DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# a digit word's folder (`six/<speaker>_nohash_0.wav`) or, in the test set's layout, its file name
# in `_unknown_` (`_unknown_/six_<speaker>_nohash_0.wav`)
_DIGIT_CLIP = re.compile(rf"^(?:({'|'.join(DIGIT_WORDS)})_)?([0-9a-f]{{8}})_nohash_", re.IGNORECASE)
COMMANDS_DIGITS_SPEAKER = "speechcommands"


def commands_digit_items(root):
    """[(path, digit, speaker)] of the spoken digits in a Speech Commands folder: more
    speakers for FSDD (`train --extra-train`). Most of its speakers say 1-3 digits, too few
    clips for speaker statistics of their own, so all share the speaker name
    COMMANDS_DIGITS_SPEAKER: speaker normalisation gives them the statistics of the whole
    set, a stand-in like the one a lone clip gets."""
    items = []
    for path in _audio_files(resolve(root)):
        match = _DIGIT_CLIP.match(path.name)
        word = path.parent.name if path.parent.name in DIGIT_WORDS else (match and match.group(1))
        if match and word:
            items.append((path, DIGIT_WORDS.index(word.lower()), COMMANDS_DIGITS_SPEAKER))
    if not items:
        raise UserError(f"{root}: no spoken digits in the Speech Commands layout (zero/ ... nine/ word folders, "
                        "or _unknown_/<digit word>_<speaker>_nohash_<n>.wav)")
    return items


def fsdd_extra_items(root):
    """FSDD training clips (`train --extra-train`) from a folder in FSDD's layout or, when it
    holds no FSDD-named file, the spoken digits of a Speech Commands folder."""
    root = resolve(root)
    if any(_FSDD_NAME.match(p.name) for p in _audio_files(root)):
        return fsdd_items(root)
    return commands_digit_items(root)


def background_noise_files(root):
    """Noise sources for augmentation: `_background_noise_/` if present, else `_silence_/` clips."""
    root = resolve(root)
    for folder in ("_background_noise_", "_silence_"):
        found = [p for p in _audio_files(root) if p.parent.name == folder]
        if found:
            return found
    return []


def timit_utterances(root):
    """[(wav path, phn path, speaker)] of a TIMIT tree (sentences with a .phn file)."""
    items = []
    for wav in _audio_files(resolve(root)):
        phn = wav.with_suffix(".phn")
        if not phn.is_file():
            phn = wav.with_suffix(".PHN")
        if phn.is_file():
            items.append((wav, phn, wav.parent.name.lower()))
    if not items:
        raise UserError(f"{root}: no TIMIT utterances (<speaker>/<sentence>.wav with .phn) found")
    return items


def read_phn(path):
    """[(start sample, end sample, phone)] of a TIMIT .phn file; UserError names the bad line."""
    segments = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            start, end, phone = int(parts[0]), int(parts[1]), parts[2]
            fold_phone(phone)
        except (ValueError, IndexError):
            raise UserError(f"{path}:{number}: expected `start end phone`, got {line!r}") from None
        segments.append((start, end, phone))
    return segments


def frame_labels(segments, num_frames, hop_samples, alignment_rate, sample_rate):
    """39-class index per frame (-1 where no phone or `q`): the phone at each frame's centre.

    librosa frames are centred, so frame i is centred on sample i*hop (at the
    feature rate); alignments are in samples at `alignment_rate` (16 kHz in TIMIT).
    """
    labels = np.full(num_frames, -1, dtype=np.int64)
    scale = alignment_rate / sample_rate
    centres = np.arange(num_frames) * hop_samples * scale
    for start, end, phone in segments:
        folded = fold_phone(phone)
        if folded is None:
            continue
        inside = (centres >= start) & (centres < end)
        labels[inside] = TIMIT_CLASSES.index(folded)
    return labels


def context_windows(features, context):
    """(frames, context, freq, channels): each frame with `context` frames centred on it
    (edges repeat the first/last frame), the input of a frame classifier."""
    half = context // 2
    padded = np.pad(features, ((half, context - 1 - half), (0, 0), (0, 0)), mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, context, axis=0)  # (T, F, C, context)
    return np.ascontiguousarray(view.transpose(0, 3, 1, 2))


def speaker_fraction(speaker):
    """A stable number in [0, 1) per speaker, for hash splits that never mix speakers.

    Salted: the staged Speech Commands subset was itself chosen by an unsalted
    sha1 of the speaker id, so an unsalted hash would not split it uniformly."""
    return int(hashlib.sha1(f"beyond-pixels-val|{speaker}".encode()).hexdigest()[:8], 16) / 2 ** 32


def split_by_speaker(items, val_speakers=None, val_fraction=0.2):
    """(train items, val items): whole speakers go to validation, either the named
    `val_speakers` or those whose hash falls below `val_fraction`."""
    speakers = {item[-1] for item in items}
    if val_speakers:
        unknown = set(val_speakers) - speakers
        if unknown:
            raise UserError(f"validation speaker(s) {sorted(unknown)} not in the data; "
                            f"speakers: {', '.join(sorted(speakers)[:20])}")
        held = set(val_speakers)
    else:
        if not 0 < val_fraction < 1:
            raise UserError(f"--val-fraction must be between 0 and 1, not {val_fraction:g}")
        held = {s for s in speakers if speaker_fraction(s) < val_fraction}
    train = [item for item in items if item[-1] not in held]
    val = [item for item in items if item[-1] in held]
    if not train or not val:
        raise UserError(f"the speaker split of {len(speakers)} speaker(s) left "
                        f"{'no speaker outside' if not train else 'none in'} the validation set "
                        f"({'--val-speakers' if val_speakers else f'--val-fraction {val_fraction:g}'})")
    return train, val


# ------------------------------------------------------------- published splits
FSDD_TEST_TAKES = range(0, 5)  # FSDD's official split: recordings 0-4 of each speaker and digit
FSDD_VAL_TAKES = range(5, 10)  # carved from the training takes (FSDD names no validation set)
COMMANDS_EXTRA_FRACTION = 0.1  # silence and unknown clips, each 10% of the keyword clips (Warden 2018)
STANDARD_SOURCES = {"fsdd": "speech-fsdd", "commands": "speech-commands-v2"}  # the training data, by registry name


def _check_standard(dataset):
    if dataset not in STANDARD_SOURCES:
        raise UserError(f"--split standard: {dataset} has no published split ({', '.join(STANDARD_SOURCES)})")


def standard_root(dataset, data_dir=None):
    """The folder of the release that `dataset`'s published split trains on."""
    from datasets.registry import dataset_dir
    _check_standard(dataset)
    return dataset_dir(STANDARD_SOURCES[dataset], data_dir)


def fsdd_take(path):
    return int(_FSDD_NAME.match(Path(path).name).group(3))


def standard_test_items(dataset, data_dir=None):
    """The test items of `dataset`'s published split: FSDD's takes 0-4, or the separately
    published Speech Commands test archive."""
    _check_standard(dataset)
    if dataset == "fsdd":
        return [i for i in fsdd_items(standard_root(dataset, data_dir)) if fsdd_take(i[0]) in FSDD_TEST_TAKES]
    from datasets.registry import dataset_dir
    return commands_items(dataset_dir("speech-commands-v2-test", data_dir))


def standard_split(dataset, data_dir=None, seed=59185):
    """(train, validation, test) items of `dataset`'s published split.

    - fsdd: takes 0-4 of every speaker and digit are the test set (the README's split; not
      speaker-disjoint), takes 5-9 validation, the rest training;
    - commands: the 12-class protocol of Warden (2018): the release's validation_list.txt
      and testing_list.txt name the held-out clips of the training archive; the ten keywords,
      `_unknown_` (the other 25 words, sampled to 10% of the keyword clips) and `_silence_`
      (1-s cuts of _background_noise_ at random volume, 10% too); the test set is the
      separately published test archive (4,890 clips)."""
    root = standard_root(dataset, data_dir)
    if dataset == "fsdd":
        items = fsdd_items(root)
        pick = lambda takes: [i for i in items if fsdd_take(i[0]) in takes]  # noqa: E731
        return pick(range(10, 1000)), pick(FSDD_VAL_TAKES), pick(FSDD_TEST_TAKES)
    if dataset == "commands":
        from datasets.registry import cache_dir
        lists = {}
        for part in ("validation", "testing"):
            listed = root / f"{part}_list.txt"
            if not listed.is_file():
                raise UserError(f"{root}: no {listed.name}; not the Speech Commands training release")
            lists[part] = {line.strip() for line in listed.read_text().splitlines() if line.strip()}
        parts = {"training": [], "validation": [], "testing": []}
        for item in commands_items(root):
            relative = Path(item[0]).relative_to(root).as_posix()
            part = next((p for p in ("validation", "testing") if relative in lists[p]), "training")
            parts[part].append(item)
        rng = np.random.default_rng(seed)
        noise = background_noise_files(root)
        silence = cache_dir() / "speech" / f"commands-silence-{seed}"  # outside the dataset's class folders
        train, val = (_commands_protocol(parts[p], noise, silence / p, rng) for p in ("training", "validation"))
        return train, val, standard_test_items(dataset, data_dir)


def _commands_protocol(items, noise_files, silence_dir, rng):
    """Keyword clips, `_unknown_` sampled to 10% of them and as many `_silence_` clips."""
    unknown = COMMANDS_CLASSES.index("_unknown_")
    keywords = [i for i in items if i[1] != unknown]
    others = [items[j] for j in rng.permutation(len(items)) if items[j][1] == unknown]
    count = int(np.ceil(COMMANDS_EXTRA_FRACTION * len(keywords)))
    return keywords + others[:count] + silence_clips(noise_files, count, silence_dir, rng)


def silence_clips(noise_files, count, folder, rng, sample_rate=16000):
    """`count` one-second `_silence_` items cut from the background-noise recordings at a
    random volume, written once as WAV files into `folder`."""
    import soundfile
    from apps.speech.audio import load_audio
    if count and not noise_files:
        raise UserError("no _background_noise_ recordings to cut _silence_ clips from")
    folder.mkdir(parents=True, exist_ok=True)
    sounds = [load_audio(path, sample_rate) for path in noise_files]
    label = COMMANDS_CLASSES.index("_silence_")
    items = []
    for n in range(count):
        sound = sounds[rng.integers(len(sounds))]
        start = rng.integers(max(1, len(sound) - sample_rate))
        clip = sound[start:start + sample_rate] * rng.uniform(0, 1)
        path = folder / f"silence_{n:05d}.wav"
        if not path.is_file():
            soundfile.write(path, np.pad(clip, (0, sample_rate - len(clip))), sample_rate, subtype="PCM_16")
        items.append((path, label, path.name))
    return items

