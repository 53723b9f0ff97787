"""External programs (GNU Go, espeak-ng, flite, ...) found where package managers put them.

Debian installs games such as GNU Go in `/usr/games`, which is not on an
ordinary user's PATH; Homebrew uses `/opt/homebrew/bin`. `find_program` looks
on PATH first, then in those places, and `resolve_command` applies it to the
first word of a command line such as an opponent engine's.
"""
import os
import shlex
import shutil

SYSTEM_DIRS = ("/usr/games", "/usr/local/games", "/usr/local/bin", "/opt/homebrew/bin", "/snap/bin")

INSTALL_HINTS = {
    "gnugo": "Debian/Ubuntu: apt-get install gnugo; macOS: brew install gnu-go",
    "espeak-ng": "Debian/Ubuntu: apt-get install espeak-ng; macOS: brew install espeak-ng",
    "flite": "Debian/Ubuntu: apt-get install flite; macOS: brew install flite",
    "mbrola": "Debian: apt-get install mbrola mbrola-us1 (contrib and non-free sections)",
}


def find_program(name):
    """The full path of program `name`, or None."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    found = shutil.which(name)
    if found:
        return found
    for folder in SYSTEM_DIRS:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def install_hint(name):
    """One line saying how to install program `name`."""
    return INSTALL_HINTS.get(os.path.basename(name), f"install {os.path.basename(name)} and put it on PATH")


def resolve_command(command):
    """The argument list of command line `command` with its program's full path, or
    FileNotFoundError whose message names the program and how to install it."""
    words = shlex.split(command)
    if not words:
        raise FileNotFoundError("empty command line")
    path = find_program(words[0])
    if path is None:
        raise FileNotFoundError(f"{words[0]} not found on PATH or in {', '.join(SYSTEM_DIRS[:2])} "
                                f"({install_hint(words[0])})")
    return [path] + words[1:]
