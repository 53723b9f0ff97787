"""Synthetic voices: a dataset's words spoken by the text-to-speech engines espeak-ng, flite and MBROLA.

Why: a word recogniser must work for voices it never heard, and small corpora have few voices
(FSDD has five; a network trained on four learns their voices along with the words). Hundreds
of synthetic voices -- seven English accents, dozens of voice variants, random pitch and speed
-- added to the real speakers (`speech train|cv --extra-train DIR`) show the network what in a
word does not depend on the voice. With `--foreign-share`, part of the voices speak English with a
foreign accent: the word's English phonemes (from espeak-ng's English voice) are rendered by the
phoneme table of another language's voice (German, French, Greek, ...), the way a non-native
speaker maps English sounds onto their own. Training on synthesized plus real speech is an established
recipe for keyword spotting (Lin et al., "Training keyword spotters with limited and synthesized
speech data", ICASSP 2020). espeak-ng's own voices are formant synthesis, a buzz no human makes; MBROLA
(`--engines mbrola`) glues diphones cut from recordings of real speakers -- four English voices and
sixteen that speak English through a German, French, Dutch, Greek, ... speaker's diphones (espeak-ng's
`mb-*-en` voices) -- so its words have a human voice's spectrum.

The clips are written in the dataset's own layout, so `--extra-train` reads them like real ones:

- fsdd: `recordings/<digit>_<voice>_0.wav` (voice `espeak0042s0`: engine, number, seed);
- commands: `<keyword>/<voice>_nohash_0.wav` for the ten keywords and a few other words in
  `_unknown_/<word>_<voice>_nohash_0.wav` (voice: 8 hex digits, as Speech Commands' speakers);

plus `voices.csv`, each voice's engine and settings. The same seed writes the same voices.
The engines are Debian packages: `apt-get install espeak-ng flite`; MBROLA and its voices are in
Debian's contrib and non-free sections: `apt-get install mbrola mbrola-us1 ...` (the voices in `MBROLA_VOICES`).
"""
import csv
import dataclasses
import functools
import hashlib
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from apps.speech import data
from shared.errors import UserError

ENGINES = ("espeak-ng", "flite")  # the default; "mbrola" is asked for by name
ALL_ENGINES = ENGINES + ("mbrola",)
FSDD_WORDS = data.DIGIT_WORDS
# Speech Commands' own auxiliary words (its "unknown" class) that are not keywords.
COMMANDS_UNKNOWN_WORDS = (["bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow"]
                          + data.DIGIT_WORDS + ["backward", "forward", "follow", "learn", "visual"])
ESPEAK_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029"]
ESPEAK_VARIANTS = ("m1 m2 m3 m4 m5 m6 m7 m8 adam Alex Andy antonio benjamin boris caleb david Denis ed edward "
                   "Gene gustave Hugo iven john Lee marcelo Marco Mario max Michael michel miguel Mike Mr paul "
                   "pedro quincy rob robert steph zac norbert sandro shelby travis victor grandpa klatt klatt2 "
                   "klatt3 f1 f2 f3 f4 f5 Annie linda belinda").split()
# Voices whose phoneme tables render English phonemes as a foreign accent (checked per word:
# a table that drops a vowel, e.g. Polish for the diphthongs, gives that word in English instead).
ESPEAK_FOREIGN = ["de", "fr-fr", "nl", "it", "es", "el", "pt", "ru", "hi", "sv", "da", "tr", "cs", "ro", "af", "hr"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
# espeak-ng's MBROLA voices that speak English: native (us1-3 American, en1 British) and accented.
MBROLA_VOICES = ["us1", "us2", "us3", "en1"] + [f"{v}-en" for v in "af1 nl2 fr1 fr4 de1 de2 de3 de4 de5 de6 gr2 "
                                                                   "hu1 pl1 ro1 sw1 sw2".split()]
MBROLA_DIR = Path("/usr/share/mbrola")  # where Debian's mbrola-<voice> packages put the diphone databases
# flite has five voices and MBROLA twenty: each engine's share of the voices when mixed with espeak-ng
FEW_VOICE_SHARES = {"flite": 0.1, "mbrola": 0.3}


@dataclasses.dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine and its settings, fixed for all the words it says."""
    name: str
    engine: str
    voice: str
    pitch: float  # espeak-ng, mbrola: 0-99 (50 default); flite: mean F0 in Hz
    speed: float  # espeak-ng, mbrola: words per minute; flite: duration stretch (1 = normal)
    phonemes_from: str = ""  # espeak-ng foreign accent: the English voice whose phonemes it speaks

    def command(self, word, path):
        if self.engine == "espeak-ng":
            voice, text = self.voice, word
            if self.phonemes_from:
                language, variant = self.voice.split("+")
                phonemes = accented_phonemes(language, self.phonemes_from, word)
                if phonemes:
                    text = f"[[{phonemes}]]"
                else:  # the table cannot say this word: the English voice says it
                    voice = f"{self.phonemes_from}+{variant}"
            return ["espeak-ng", "-v", voice, "-p", str(int(self.pitch)), "-s", str(int(self.speed)),
                    "-w", str(path), text]
        if self.engine == "mbrola":  # espeak-ng turns the text into phonemes and drives mbrola
            return ["espeak-ng", "-v", f"mb-{self.voice}", "-p", str(int(self.pitch)), "-s", str(int(self.speed)),
                    "-w", str(path), word]
        return ["flite", "-voice", self.voice, "--setf", f"duration_stretch={self.speed:.3f}",
                "--setf", f"int_f0_target_mean={self.pitch:.1f}", "-t", word, "-o", str(path)]


def _espeak_output(*args):
    result = subprocess.run(["espeak-ng", "-q", *args], capture_output=True, text=True, check=True)
    return "".join(result.stdout.split())


# A vowel missing from a language's table becomes its nearest common vowel, as a learner says
# "one" /wan/, "six" /siks/, "go" /go/ (espeak-ng's English mnemonics; diphthongs first).
NEAREST_VOWELS = {"aU": "au", "oU": "o", "@U": "o", "A:": "a", "3:": "e", "V": "a", "0": "o", "I": "i"}


@functools.lru_cache(maxsize=None)
def accented_phonemes(language, english, word):
    """`word`'s phonemes in `english`'s espeak-ng notation, spoken by `language`'s voice: as they are,
    or with the vowels its table lacks replaced by the nearest; None when a sound is still lost
    (fewer than 3/4 of the IPA symbols survive; a dropped vowel would make another word)."""
    def ipa(voice, text):
        return _espeak_output("-v", voice, "--ipa", text).replace("ˈ", "").replace("ˌ", "")

    reference = ipa(english, word)
    phonemes = _espeak_output("-v", english, "-x", word)
    nearest = phonemes
    for vowel, replacement in NEAREST_VOWELS.items():
        nearest = nearest.replace(vowel, replacement)
    for candidate in (phonemes, nearest):
        if len(ipa(language, f"[[{candidate}]]")) >= 0.75 * len(reference):
            return candidate
    return None


def sample_voices(count, seed=0, engines=ENGINES, foreign_share=0.0):
    """`count` random voices (the same for the same arguments); `foreign_share` of the espeak-ng
    voices speak with a foreign accent."""
    rng = random.Random(seed)
    voices = []
    for k in range(count):
        engine = _draw_engine(rng, engines)
        phonemes_from = ""
        if engine == "mbrola":
            voice, pitch, speed = rng.choice(MBROLA_VOICES), rng.randint(20, 80), rng.randint(110, 210)
        elif engine == "espeak-ng":
            english, variant = rng.choice(ESPEAK_ACCENTS), rng.choice(ESPEAK_VARIANTS)
            voice = f"{english}+{variant}"
            pitch, speed = rng.randint(15, 75), rng.randint(110, 210)
            # drawn only when asked, so that voices without accents stay those of earlier versions
            if foreign_share and rng.random() < foreign_share:
                voice, phonemes_from = f"{rng.choice(ESPEAK_FOREIGN)}+{variant}", english
        else:
            voice = rng.choice(FLITE_VOICES)
            pitch, speed = round(rng.uniform(80, 180), 1), round(rng.uniform(0.8, 1.3), 3)
        voices.append(Voice(f"{engine.split('-')[0]}{k:04d}s{seed}", engine, voice, pitch, speed, phonemes_from))
    return voices


def _draw_engine(rng, engines):
    """flite and mbrola take their FEW_VOICE_SHARES of the voices, espeak-ng the rest (one draw per
    voice, so that the default engines draw the voices of earlier versions)."""
    if len(engines) == 1:
        return engines[0]
    few = [e for e in FEW_VOICE_SHARES if e in engines]
    draw = rng.random()
    if "espeak-ng" not in engines:  # flite and mbrola alone: half each
        return few[int(draw * len(few))]
    edge = 0.0
    for engine in few:
        edge += FEW_VOICE_SHARES[engine]
        if draw < edge:
            return engine
    return "espeak-ng"


def _hex_name(name):
    return hashlib.sha1(name.encode()).hexdigest()[:8]


def speaker_id(dataset, voice):
    """The speaker name in the dataset's file names: FSDD takes the voice name, Speech
    Commands 8 hex digits."""
    return _hex_name(voice.name) if dataset == "commands" else voice.name


def clip_plan(dataset, voices, unknown_per_voice=2, seed=0):
    """[(voice, word, relative path)] of every clip to write, in the dataset's layout."""
    if dataset == "fsdd":
        return [(v, word, Path("recordings") / f"{digit}_{speaker_id(dataset, v)}_0.wav")
                for v in voices for digit, word in enumerate(FSDD_WORDS)]
    if dataset != "commands":
        raise UserError(f"synth: --dataset {dataset}: synthetic voices are for the clip datasets (fsdd, commands)")
    rng = random.Random(seed)
    plan = []
    for v in voices:
        speaker = speaker_id(dataset, v)
        plan += [(v, word, Path(word) / f"{speaker}_nohash_0.wav") for word in data.COMMANDS_KEYWORDS]
        plan += [(v, word, Path("_unknown_") / f"{word}_{speaker}_nohash_0.wav")
                 for word in rng.sample(COMMANDS_UNKNOWN_WORDS, unknown_per_voice)]
    return plan


def check_engines(engines, voices=()):
    """A clear error naming the Debian packages to install when an engine, or an MBROLA voice that
    `voices` use, is missing."""
    needed = [e for e in engines if e != "mbrola"] + (["espeak-ng"] if "mbrola" in engines else [])
    missing = [e for e in dict.fromkeys(needed) if shutil.which(e) is None]
    if missing:
        raise UserError(f"synth: {', '.join(missing)} not found; install with: apt-get install {' '.join(missing)}")
    if "mbrola" in engines:
        databases = sorted({v.voice.split("-")[0] for v in voices if v.engine == "mbrola"})
        packages = (["mbrola"] if shutil.which("mbrola") is None else []) + [
            f"mbrola-{d}" for d in databases if not (MBROLA_DIR / d / d).is_file()]
        if packages:
            raise UserError(f"synth: MBROLA ({', '.join(packages)}) not found; install with: apt-get install "
                            f"{' '.join(packages)} (Debian's contrib and non-free sections)")


def _speak(job):
    voice, word, path = job
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(voice.command(word, path), capture_output=True, text=True)
    except subprocess.CalledProcessError as error:  # the phoneme lookup of a foreign accent failed
        return f"{path.name}: {voice.engine} {voice.voice} failed on {word!r}: {error.stderr.strip()[:200]}"
    # espeak-ng exits 0 on some bad options: the file is the proof
    if result.returncode != 0 or not path.is_file() or path.stat().st_size <= 44:
        path.unlink(missing_ok=True)
        return f"{path.name}: {voice.engine} {voice.voice} failed on {word!r}: {result.stderr.strip()[:200]}"
    return None


def synthesise(dataset, out_dir, count, seed=0, engines=ENGINES, unknown_per_voice=2, workers=2, progress=True,
               foreign_share=0.0):
    """Write `count` voices' clips under `out_dir` and voices.csv; returns (clips written, error messages)."""
    from tqdm.auto import tqdm
    out_dir = Path(out_dir)
    voices = sample_voices(count, seed, engines, foreign_share)
    check_engines(engines, voices)
    plan = clip_plan(dataset, voices, unknown_per_voice, seed)
    jobs = [(v, word, out_dir / rel) for v, word, rel in plan]
    with ThreadPoolExecutor(workers) as pool:
        results = list(tqdm(pool.map(_speak, jobs), total=len(jobs), desc="synth", unit="clip", disable=not progress))
    errors = [r for r in results if r]
    with open(out_dir / "voices.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["speaker", "name", "engine", "voice", "pitch", "speed", "phonemes_from"])
        for v in voices:
            writer.writerow([speaker_id(dataset, v), v.name, v.engine, v.voice, v.pitch, v.speed, v.phonemes_from])
    for message in errors:
        print(f"skipped: {message}", file=sys.stderr)
    return len(jobs) - len(errors), errors
