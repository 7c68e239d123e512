"""Submissions that arrive as archives: ``make submit`` zips, folders of them, LMS bulk downloads.

    stage(SUBMISSIONS, OUT) -> Staged      # OUT/.staging/<digest>/<student>/<day>/<file>

What a TA may give ``make grade SUBMISSIONS=...`` besides nbgrader's ``submitted/`` layout:

* one student's archive, as ``make submit`` writes it (``alice_day15.zip``: ``day15/...`` and
  ``manifest.json``);
* a folder of such archives (or of LMS-named uploads, or per-student LMS folders);
* an LMS bulk download: one zip holding one file or folder per student, named the LMS's way
  (Canvas ``doe_jane_12345_67890_jane_day15.zip``, ``..._LATE_12345_...``; Moodle
  ``Jane Doe_12345_assignsubmission_file_/``; Blackboard
  ``Day15_jdoe_attempt_2026-11-20-10-15-00_day15.zip``; ``<id>_attempt_<date>.zip``).

Every archive is untrusted.  Nothing is ever extracted with ``extractall``: each member is
checked (no absolute path, no ``..``, no link or device, no duplicate, UTF-8 name, not
encrypted, not itself an archive, size, count and compression-ratio limits) and only the
exercise files (``<level>.py``, ``<day>_<level>.ipynb``) are written, by name, into a staging
folder inside the grading output.  A student whose upload breaks a rule is staged with no files
and the reason (they get 0 and read why); the rest of the class is graded.  Staging is a pure
function of the input bytes (no times, sorted), so an unchanged student is not graded again.

Who uploaded comes only from a part of a name the student does not control, read in the LMS's
own order: the LMS's prefix of a bulk download's member (Canvas ``<lastfirst>_<userid>_<subid>_``,
Moodle ``<Full Name>_<id>_assignsubmission_file_``, Blackboard ``<Assignment>_<user>_attempt_<date>``;
what follows is the student's file name, never read for identity), else the name the TA's folder
gives the file or folder (``<id>_dayNN.zip``, ``<id>/``).  Never from a name inside an upload, nor
from the manifest (the student writes it): a manifest that names another student is refused, the
upload graded as the student the name says, and the TA told.  No student folder takes the name
of a file the CLI writes (:mod:`autograder.outputs`).  Of several attempts of one student, the
latest (by the date in the LMS's name, else the upload's time in the bulk zip, else the
manifest's) is graded, per day; the notes say which one and which were ignored.  Names shown to
the TA or the student are cleaned of control characters (:func:`autograder.textsafe.clean`).
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from autograder import outputs
from autograder.catalogue import DAYS, LEVELS, levels_of
from autograder.safe_files import UnsafeFile, read_regular_file
from autograder.submissions import MANIFEST, SAFE_ID  # noqa: F401  (one definition: make submit's too)
from autograder.submissions.staged import NOTES_FILE, STUDENT_NOTES, class_notes  # noqa: F401  (the engine's reader)
from autograder.textsafe import clean

# Limits of one student's upload (an archive or a folder).
MAX_MEMBERS = 200
MAX_MEMBER_BYTES = 32 << 20           # one file, uncompressed (notebooks embed plots)
MAX_TOTAL_BYTES = 50 << 20            # one upload, uncompressed
MAX_RATIO = 100                       # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 64 << 10
# Limits of a bulk download (its members are mostly the students' zips, stored as they are).
BULK_MAX_MEMBERS = 20000
BULK_MAX_TOTAL_BYTES = 4 << 30

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".whl", ".tbz2", ".zst")
STAGING = outputs.STAGING
EXERCISE_NAMES = {f"{lv}.py" for lv in LEVELS} | {f"{d}_{lv}.ipynb" for d in DAYS for lv in levels_of(d)}
SKIPPED_QUIETLY = {MANIFEST, "checking.py", "public_tests.py", ".DS_Store", "Thumbs.db", "desktop.ini"}
# A day in a name: day15, Day 15, DAY_15, day-15 (an LMS assignment's name, an upload's, a download's).
_DAY_IN_NAME = re.compile(r"(?<![A-Za-z])day[\s_-]?(\d\d)(?!\d)", re.I)


def days_named(text: str) -> list[str]:
    """The kit's days a name mentions (``Day 15 - RNNs`` -> ['day15']), in the kit's order."""
    said = {f"day{n}" for n in _DAY_IN_NAME.findall(text or "")}
    return [d for d in DAYS if d in said]


def exercise_tail(name: str) -> tuple[str, str] | None:
    """(what precedes, exercise file name) of a bare file's name: ``jdoe_basic.py`` -> ('jdoe', 'basic.py'),
    ``day15_basic.ipynb`` -> ('', 'day15_basic.ipynb'); None when it ends in no exercise file's name."""
    for fname in sorted(EXERCISE_NAMES, key=len, reverse=True):
        if name == fname:
            return "", fname
        if name.endswith("_" + fname) or name.endswith("-" + fname) or name.endswith(" " + fname):
            return name[:-len(fname) - 1], fname
    return None


class ArchiveError(Exception):
    """An upload (or the whole download) breaks a rule; the message is written for its reader."""


# ------------------------------------------------------------------------------------------------
# Reading one zip safely
# ------------------------------------------------------------------------------------------------

@dataclass
class Limits:
    members: int = MAX_MEMBERS
    member_bytes: int = MAX_MEMBER_BYTES
    total_bytes: int = MAX_TOTAL_BYTES
    ratio: int = MAX_RATIO


BULK = Limits(BULK_MAX_MEMBERS, MAX_TOTAL_BYTES, BULK_MAX_TOTAL_BYTES, MAX_RATIO)


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as UTF-8 text, or ArchiveError (zip tools that do not flag UTF-8 are accepted)."""
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    try:   # not flagged: zipfile decoded the bytes as cp437; most tools wrote UTF-8 anyway
        return name.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise ArchiveError(f"the name {name!r} is not UTF-8: rename the file with plain letters "
                           "and digits and zip it again") from None


def _clean_path(name: str) -> str:
    """A member name as a safe relative POSIX path (ArchiveError for absolute paths and '..')."""
    if "\0" in name or any(ord(c) < 32 for c in name):
        raise ArchiveError(f"the name {name!r} holds control characters")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or re.match(r"[A-Za-z]:", unified):
        raise ArchiveError(f"{name!r} is an absolute path: an archive may only hold relative paths")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{name!r} points outside the archive ('..'): zip the exercise files themselves")
    return "/".join(parts)


def is_archive_name(name: str) -> bool:
    low = name.lower()
    return low.endswith(ARCHIVE_SUFFIXES)


@dataclass
class Member:
    path: str                  # clean relative path ('' never)
    info: zipfile.ZipInfo
    is_dir: bool


def check_members(zf: zipfile.ZipFile, limits: Limits, what: str) -> list[Member]:
    """Every member of ``zf`` checked against the rules; ArchiveError names the first broken one."""
    infos = zf.infolist()
    if len(infos) > limits.members:
        raise ArchiveError(f"{what} holds {len(infos)} entries (the limit is {limits.members}): "
                           "zip the exercise files only")
    members, seen, total = [], {}, 0
    for info in infos:
        name = _member_name(info)
        path = _clean_path(name)
        mode = info.external_attr >> 16
        is_dir = info.is_dir()
        if info.create_system == 3 and mode:   # Unix: the file type is in the high bits
            kind = stat.S_IFMT(mode)
            if stat.S_ISLNK(mode):
                raise ArchiveError(f"{name!r} is a symbolic link: links are not accepted, zip the file itself")
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise ArchiveError(f"{name!r} is not a regular file (a device, pipe or socket)")
            is_dir = is_dir or stat.S_ISDIR(mode)
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{name!r} is encrypted: submit an archive without a password")
        if not path:
            if is_dir:
                continue
            raise ArchiveError(f"{what} holds an entry with an empty name ({name!r})")
        key = unicodedata.normalize("NFC", path).casefold()
        if key in seen and not (is_dir and seen[key]):
            raise ArchiveError(f"{what} holds {name!r} twice: a duplicate name could replace a file "
                               "after it was checked; zip each file once")
        seen[key] = is_dir
        if not is_dir:
            if info.file_size > limits.member_bytes:
                raise ArchiveError(f"{name!r} is {_mib(info.file_size)} uncompressed: far too large "
                                   f"(the limit is {_mib(limits.member_bytes)} per file)")
            total += info.file_size
            if total > limits.total_bytes:
                raise ArchiveError(f"{what} unpacks to more than {_mib(limits.total_bytes)}: "
                                   "submit the exercise files only")
            if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(info.compress_size, 1):
                raise ArchiveError(f"{name!r} is compressed {info.file_size // max(info.compress_size, 1)}:1 "
                                   f"(the limit is {limits.ratio}:1): this looks like a zip bomb")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                          zipfile.ZIP_LZMA):
                raise ArchiveError(f"{name!r} uses an unsupported compression method ({info.compress_type})")
        members.append(Member(path, info, is_dir))
    return members


def read_member(zf: zipfile.ZipFile, m: Member, limit: int) -> bytes:
    """The member's bytes, never more than its declared size nor ``limit`` (a lying header cannot bomb)."""
    cap = min(m.info.file_size, limit)
    buf = bytearray()
    try:
        with zf.open(m.info) as f:
            while len(buf) <= cap:
                chunk = f.read(min(1 << 20, cap + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ArchiveError(f"{m.path!r} could not be read: {exc}") from None
    if len(buf) > cap:
        raise ArchiveError(f"{m.path!r} unpacks to more than it declares: this looks like a zip bomb")
    return bytes(buf)


def open_zip(data_or_path, what: str) -> zipfile.ZipFile:
    try:
        src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
        return zipfile.ZipFile(src)
    except UnicodeDecodeError:
        raise ArchiveError(f"{what} has a file name that is not valid UTF-8: rename it and zip again") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveError(f"{what} is not a readable zip archive ({exc})") from None


# ------------------------------------------------------------------------------------------------
# Uploads: who, when, which files
# ------------------------------------------------------------------------------------------------

@dataclass
class Who:
    key: str          # what identifies the student across attempts (the LMS's user id)
    name: str         # the folder name of their grades
    scheme: str       # canvas, moodle, blackboard, attempt, submit
    when: str = ""    # the attempt's time from the name (ISO), "" if none
    late: bool = False
    original: str = ""   # the student's own part of the name (their file's name), never read for identity
    full_name: str = ""  # the name the LMS wrote (Moodle's full name: its feedback files are named with it)


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    text = re.sub(r"_+", "_", text)
    return text.lower()[:80]


def _iso(date: str, time: str | None = None) -> str:
    y, mo, d = re.split(r"[-_]", date)[:3]
    nums = re.findall(r"\d+", time or "")
    hh, mm, ss = (nums + ["00", "00", "00"])[:3]
    return f"{y}-{mo}-{d}T{int(hh):02d}:{int(mm):02d}:{int(ss):02d}"


# Each LMS writes who uploaded (and, for Blackboard, when) in front of the name the student gave the file:
#   Moodle      <Full Name>_<id>_assignsubmission_<plugin>[_]/<student's files>   (folders, Moodle >= 3.1)
#               <Full Name>_<id>_assignsubmission_<plugin>_<student's file name>  (one flat folder)
#               (Moodle writes '_' in the full name as ' ': the first '_<digits>_assign...' is its own)
#   Canvas      <lastfirst>[_LATE]_<user id>_<submission id>_<student's file name>
#   Blackboard  <Assignment>_<username>_attempt_<yyyy-mm-dd-hh-mm-ss>[_<student's file name>]
# so every pattern is anchored at the start of the name and stops at the end of the LMS's part: what the
# student named their file cannot move the match.  Moodle and Canvas are tried before the '_attempt_'
# patterns because a student may name a file '<classmate>_attempt_<far future>.zip': inside a Canvas or
# Moodle name that text is in the student's part.  (Canvas's prefix cannot match a Blackboard name: after
# its letters-only name segments it needs two all-digit ones, and Blackboard's next segment is the date.)
_DATE = r"(\d{4}-\d{2}-\d{2})(?:[-_T ](\d{2}[-:.]\d{2}(?:[-:.]\d{2})?))?"
_MOODLE = re.compile(r"(?P<name>[^_/]+)_(?P<id>\d+)_assign(?:submission|feedback)_(?P<plugin>[a-z]+)"
                     r"(?:_(?P<file>.*))?")
_CANVAS = re.compile(r"(?P<name>[^\W\d_](?:[^\W_]|-)*(?:_[^\W\d_](?:[^\W_]|-)*)*?)_(?P<late>LATE_)?(?P<id>\d+)_"
                     r"(?P<att>\d+)_(?P<file>.+)")
_ATTEMPT = re.compile(r"(?P<pre>[^/]+?)_attempt_" + _DATE + r"(?:_(?P<file>.*))?")
_SUBMIT = re.compile(r"(?P<id>[A-Za-z0-9][A-Za-z0-9.-]*(?:_[A-Za-z0-9.-]+)*?)_(?P<days>day\d\d(?:_day\d\d)*)")


def parse_name(label: str, folder: bool = False) -> Who | None:
    """The student and attempt an LMS (or ``make submit``) name says, None when it says nothing.

    ``label`` is a name the LMS (or the TA) gave: a member at the top of a bulk download, an entry
    of the folder given to the CLI; never a name found inside a student's upload."""
    stem = label.rstrip("/")
    m = _MOODLE.fullmatch(stem)
    if m and (folder or m["file"]):
        return Who(f"moodle:{m['id']}", slug(f"{m['name']}_{m['id']}"), "moodle", original=m["file"] or "",
                   full_name=m["name"])
    if not folder:
        stem = re.sub(r"\.(zip|ipynb|py)$", "", stem, flags=re.I)
    m = _CANVAS.fullmatch(label if not folder else stem)
    if m:
        name, late = m["name"], bool(m["late"])
        if name.endswith("_LATE"):
            name, late = name[:-5], True
        return Who(f"id:{m['id']}", slug(f"{name}_{m['id']}"), "canvas", late=late, original=m["file"],
                   full_name=name)
    m = _ATTEMPT.fullmatch(stem)
    if m:
        pre = m["pre"]
        original = m["file"] + label[len(stem):] if m["file"] else ""
        if re.search(r"_\d+$", pre) or "_" not in pre:       # lastname_firstname_12345 or just an id
            key = re.search(r"(\d+)$", pre)
            return Who(f"id:{key[1] if key else slug(pre)}", slug(pre), "attempt", _iso(m[2], m[3]),
                       original=original)
        user = pre.rsplit("_", 1)[1]                           # Blackboard: <assignment>_<username>
        return Who(f"user:{slug(user)}", slug(user), "blackboard", _iso(m[2], m[3]), original=original)
    m = _SUBMIT.fullmatch(stem)
    if m:
        return Who(f"user:{slug(m['id'])}", slug(m["id"]), "submit")
    return None


@dataclass
class Upload:
    label: str                                   # as named in the download
    who: Who | None
    when: str                                    # ISO time used to order attempts ("" unknown)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)    # day -> file name -> bytes
    manifest: dict | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    owner: str | None = None                     # the TA's name for it (its folder) when ``label`` is the student's
    when_from: str = ""                          # where ``when`` comes from, said to the student (late work)
    undated: list = field(default_factory=list)  # (path, name, bytes) of exercise files nothing gave a day yet
    undated_ignored: bool = False                # some were never given one: not graded, and said so

    @property
    def days(self) -> list[str]:
        return [d for d in DAYS if d in self.files]


def _zip_time(info: zipfile.ZipInfo) -> str:
    y, mo, d, h, mi, s = info.date_time
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"


def _place(upload: Upload, entries: list[tuple[str, bytes]]) -> None:
    """Sort an upload's files into days: ``.../dayNN/<level>.py``, ``dayNN_<level>.ipynb``, loose ``<level>.py``."""
    loose, ignored = [], []
    for path, data in entries:
        parts = path.split("/")
        name = parts[-1]
        if name in SKIPPED_QUIETLY or name.startswith(".") or "__MACOSX" in parts or "__pycache__" in parts:
            continue
        if name not in EXERCISE_NAMES:
            ignored.append(path)
            continue
        days_in_path = [p for p in parts[:-1] if p in DAYS]
        m = re.fullmatch(r"(day\d\d)_\w+\.ipynb", name)
        day = days_in_path[-1] if days_in_path else m[1] if m else None
        if day is None:
            loose.append((path, name, data))
            continue
        if m and m[1] != day:
            ignored.append(path)
            continue
        if name in upload.files.get(day, {}):
            upload.notes.append(f"{day}: two files named {name} in {upload.label}; graded the first ({path} ignored)")
            continue
        upload.files.setdefault(day, {})[name] = data
    said = (upload.manifest or {}).get("days")
    manifest_days = [d for d in said if isinstance(d, str) and d in DAYS] if isinstance(said, list) else []
    # The day of a bare exercise file, from the upload itself first; never guessed: the note says the source.
    if len(manifest_days) == 1:
        own = (manifest_days[0], f"its manifest says {manifest_days[0]}")
    elif len(upload.days) == 1:
        own = (upload.days[0], f"the other files of the upload are {upload.days[0]}'s")
    elif len(days_named(upload.label)) == 1:
        own = (days_named(upload.label)[0], f"the upload's name says {days_named(upload.label)[0]}")
    else:
        own = None
    for path, name, data in loose:
        if own is None:
            upload.undated.append((path, name, data))     # the TA's DAY or the download's name may tell (stage())
        else:
            place_loose(upload, path, name, data, *own)
    if ignored:
        shown = ", ".join(sorted(ignored)[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
        upload.notes.append(f"ignored in {upload.label}: {shown} (not an exercise file: "
                            f"{', '.join(f'{lv}.py' for lv in LEVELS)} or <day>_<level>.ipynb in a day folder)")


def place_loose(upload: Upload, path: str, name: str, data: bytes, day: str, why: str) -> None:
    """A bare exercise file taken as ``day``'s, and the note that says so and why."""
    if name in upload.files.get(day, {}):
        upload.notes.append(f"{day}: two files named {name} in {upload.label}; graded the first ({path} ignored)")
        return
    upload.files.setdefault(day, {})[name] = data
    upload.notes.append(f"{upload.label}: took {path} as {day}/{name} ({why})")


def resolve_undated(upload: Upload, hint: tuple[str, str] | None) -> list[str]:
    """Give the upload's bare exercise files the day ``hint`` says ((day, why): the TA's DAY, or the
    download's name), or leave them ungraded with a note saying why; the TA's warnings in return."""
    warnings = []
    for path, name, data in upload.undated:
        if hint is not None:
            place_loose(upload, path, name, data, *hint)
            continue
        upload.undated_ignored = True
        upload.notes.append(f"ignored in {upload.label}: {path} (an exercise file, but nothing says which day: "
                            f"put it in a {DAYS[0]}/ or {DAYS[1]}/ folder, or name the upload with its day, "
                            f"e.g. <id>_{DAYS[0]}.zip)")
        warnings.append(f"{upload.label}: {path} not graded: nothing says which day it is for; give the day "
                        f"(make grade ... DAY={DAYS[0][3:]}, or --day {DAYS[0][3:]})")
    upload.undated = []
    return warnings


def _manifest(upload: Upload, data: bytes) -> None:
    try:
        man = json.loads(data.decode("utf-8"))
        if not isinstance(man, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        upload.notes.append(f"the manifest.json of {upload.label} is not readable: ignored")
        return
    upload.manifest = man


def _verify_manifest(upload: Upload) -> None:
    files = upload.manifest.get("files") if upload.manifest else None
    if not isinstance(files, list):
        return
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        parts = entry["path"].split("/")
        data = upload.files.get(parts[0], {}).get(parts[-1]) if len(parts) == 2 else None
        if data is not None and hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            upload.notes.append(f"{entry['path']} in {upload.label} differs from its manifest "
                                "(changed after make submit)")


def upload_from_zip(label: str, source, when: str = "", who: Who | None | bool = True,
                    owner: str | None = None, when_from: str = "the upload's time in the LMS download") -> Upload:
    """One student's archive (a path or bytes); ``when``: its upload time, if the download says.
    ``who``: the student the LMS's name of it says (True: parse ``label``, which must be a name the
    LMS or the TA gave); ``owner``: the label that names the student when no LMS name does."""
    up = Upload(label, parse_name(label) if who is True else who, when, owner=owner)
    try:
        with open_zip(source, label) as zf:
            members = check_members(zf, Limits(), label)
            entries = []
            for m in members:
                if m.is_dir:
                    continue
                if is_archive_name(m.path):
                    raise ArchiveError(f"{label} holds another archive ({m.path}): archives inside archives "
                                       "are not accepted; put the exercise files in the archive itself")
                data = read_member(zf, m, MAX_MEMBER_BYTES)
                if data[:4] == b"PK\x03\x04" and m.path.split("/")[-1] in EXERCISE_NAMES:
                    raise ArchiveError(f"{m.path} in {label} is itself a zip archive, not an exercise file")
                if m.path == MANIFEST:
                    _manifest(up, data)
                entries.append((m.path, data))
            inner_time = max((_zip_time(m.info) for m in members), default="")
    except ArchiveError as exc:
        up.error = str(exc)
        return up
    _place(up, entries)
    _verify_manifest(up)
    created = (up.manifest or {}).get("created")
    created = created.rstrip("Z") if isinstance(created, str) and \
        re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z?", created) else ""
    # The attempt's time: the LMS's name, else the upload's time, else the manifest's, else the files'.
    up.when = (up.who.when if up.who else "") or when or created or inner_time
    up.when_from = ("the LMS's name of the upload" if up.who and up.who.when else when_from if when else
                    "the manifest make submit wrote" if created else
                    "the latest file time inside the upload" if inner_time else "")
    return up


def _read_disk_file(path: Path, limit: int) -> bytes:
    try:
        return read_regular_file(path, limit)
    except UnsafeFile as exc:
        advice = ": links are not accepted" if "symbolic link" in str(exc) else ""
        raise ArchiveError(f"{exc}{advice}") from None


def upload_from_folder(label: str, folder: Path, who: Who | None) -> Upload:
    """A per-student folder on disk (an unpacked Moodle download): its files, or the one archive in it."""
    up = Upload(label, who, who.when if who else "", when_from="the LMS's name of the upload" if who and who.when else "")
    try:
        entries, count, total = [], 0, 0
        for top, dirs, names in os.walk(folder):      # (os.walk never follows links to folders)
            dirs.sort()
            for d in dirs:
                if os.path.islink(os.path.join(top, d)):
                    raise ArchiveError(f"{os.path.relpath(os.path.join(top, d), folder)} is a symbolic link: "
                                       "links are not accepted")
            for n in sorted(names):
                p = Path(top, n)
                rel = str(p.relative_to(folder))
                count += 1
                if count > MAX_MEMBERS:
                    raise ArchiveError(f"{label} holds more than {MAX_MEMBERS} files")
                data = _read_disk_file(p, MAX_MEMBER_BYTES)
                total += len(data)
                if total > MAX_TOTAL_BYTES:
                    raise ArchiveError(f"{label} holds more than {_mib(MAX_TOTAL_BYTES)}")
                entries.append((rel, data))
    except ArchiveError as exc:
        up.error = str(exc)
        return up
    return _folder_entries(up, entries)


def _folder_entries(up: Upload, entries: list[tuple[str, bytes]]) -> Upload:
    """A per-student folder's files: one archive (one level of nesting), or the exercise files."""
    archives = [(p, d) for p, d in entries if is_archive_name(p)]
    if len(archives) > 1:
        up.error = (f"{up.label} holds {len(archives)} archives ({', '.join(p for p, _ in archives[:3])}): "
                    "submit one")
        return up
    if archives:
        path, data = archives[0]
        if not path.lower().endswith(".zip"):
            up.error = f"{path} is not a zip archive: submit a .zip (make submit writes one)"
            return up
        # (the archive's own name is the student's: who it is comes from the folder the LMS or TA named)
        inner = upload_from_zip(f"{up.label.rstrip('/')}/{path}", data, up.when, who=up.who,
                                owner=up.owner or up.label, when_from=up.when_from)
        if up.when:
            inner.when, inner.when_from = up.when, up.when_from
        others = [p for p, _ in entries if p != path and p.split("/")[-1] in EXERCISE_NAMES]
        if others:
            inner.notes.append(f"ignored beside the archive: {', '.join(others[:5])}")
        return inner
    for p, d in entries:
        if p.split("/")[-1] == MANIFEST:
            _manifest(up, d)
    _place(up, entries)
    _verify_manifest(up)
    return up


# ------------------------------------------------------------------------------------------------
# Finding the uploads of a target
# ------------------------------------------------------------------------------------------------

def _is_student_archive(zf: zipfile.ZipFile) -> bool:
    """A single ``make submit`` archive rather than a bulk download: a manifest or day folders at its top."""
    tops = {i.filename.replace("\\", "/").lstrip("/").split("/")[0] for i in zf.infolist()}
    return MANIFEST in tops or bool(tops & set(DAYS))


def uploads_from_bulk(path: Path) -> tuple[list[Upload], list[str]]:
    """Uploads of an LMS bulk download, and warnings about members that belong to nobody."""
    warnings: list[str] = []
    with open_zip(path, path.name) as zf:
        if _is_student_archive(zf):
            return [upload_from_zip(path.name, path)], warnings
        infos = zf.infolist()
        if len(infos) > BULK.members:
            raise ArchiveError(f"{path.name} holds {len(infos)} entries (the limit is {BULK.members})")
        groups: dict[str, list] = {}
        total = 0
        for info in infos:
            name = info.filename      # (a non-UTF-8 name is refused below, for its student only)
            unified = name.replace("\\", "/")
            top, _, rest = unified.partition("/")
            if top == "__MACOSX":
                continue
            if top in ("", ".", "..") or re.match(r"[A-Za-z]:", top):
                warnings.append(f"skipped {name!r} in {path.name}: an absolute path or '..' belongs to no student")
                continue
            groups.setdefault(top, []).append((info, rest, not rest and not info.is_dir()))
            total += info.file_size
            if total > BULK.total_bytes:
                raise ArchiveError(f"{path.name} unpacks to more than {_mib(BULK.total_bytes)}")
        uploads = []
        for top in sorted(groups):
            members = groups[top]
            if len(members) == 1 and members[0][2]:         # a file at the top: one student's upload
                if not (is_archive_name(top) or parse_name(top)):
                    warnings.append(f"skipped {top!r} in {path.name}: not a student's upload (no LMS name, "
                                    "not an archive)")
                    continue
                uploads.append(_bulk_file(zf, top, members[0][0]))
            else:
                uploads.append(_bulk_folder(zf, top, members))
    return uploads, warnings


def _bulk_file(zf: zipfile.ZipFile, top: str, info: zipfile.ZipInfo) -> Upload:
    when = _zip_time(info)
    try:
        _member_name(info)
        # (a zip is never much larger than what it holds: its own limits are checked inside it)
        [m] = check_members(_OneInfo(info), Limits(1, 2 * MAX_TOTAL_BYTES, 2 * MAX_TOTAL_BYTES), top)
        data = read_member(zf, m, 2 * MAX_TOTAL_BYTES)
    except ArchiveError as exc:
        return Upload(top, parse_name(top), when, error=str(exc))
    if top.lower().endswith(".zip"):
        return upload_from_zip(top, data, when)
    who = parse_name(top)
    up = Upload(top, who, who.when if who and who.when else when,
                when_from="the LMS's name of the upload" if who and who.when else "the upload's time in the LMS download")
    if is_archive_name(top):
        up.error = f"{top} is not a zip archive: submit a .zip (make submit writes one)"
        return up
    own = (who.original if who else "") or top     # the file's own name, as the student gave it
    tail = exercise_tail(own)
    _place(up, [(tail[1] if tail else own, data)])
    return up


def upload_from_file(label: str, path: Path) -> Upload:
    """One bare exercise file (``basic.py``, ``jdoe_basic.py``, Canvas's ``doe_jane_1_2_basic.py``): its
    student from the LMS's name, else what precedes the exercise's name (else the name itself)."""
    who = parse_name(label)
    own = (who.original if who else "") or label
    tail = exercise_tail(own)
    owner = None if who else (tail[0] if tail and tail[0] else re.sub(r"\.(py|ipynb)$", "", label))
    up = Upload(label, who, who.when if who else "", owner=owner,
                when_from="the LMS's name of the upload" if who and who.when else "")
    try:
        data = _read_disk_file(path, MAX_MEMBER_BYTES)
    except ArchiveError as exc:
        up.error = str(exc)
        return up
    _place(up, [(tail[1] if tail else own, data)])
    return up


class _OneInfo:
    """check_members() on a member list of our choosing."""
    def __init__(self, *infos):
        self._infos = list(infos)

    def infolist(self):
        return self._infos


def _bulk_folder(zf: zipfile.ZipFile, top: str, members: list) -> Upload:
    who = parse_name(top, folder=True) or parse_name(top)
    when = max((_zip_time(i) for i, _, _ in members), default="")
    up = Upload(top + "/", who, who.when if who and who.when else when,
                when_from="the LMS's name of the upload" if who and who.when else
                "the latest file time in the LMS download" if when else "")
    try:
        _member_name(members[0][0])          # the folder's own name must be UTF-8 too
        sub = []
        for info, rest, _ in members:
            clone = zipfile.ZipInfo.__new__(zipfile.ZipInfo)
            for slot in zipfile.ZipInfo.__slots__:
                if hasattr(info, slot):
                    setattr(clone, slot, getattr(info, slot))
            clone.filename = rest or "./"
            sub.append(clone)
        checked = check_members(_OneInfo(*sub), Limits(), up.label)
        entries = [(m.path, read_member(zf, m, MAX_MEMBER_BYTES)) for m in checked if not m.is_dir]
    except ArchiveError as exc:
        up.error = str(exc)
        return up
    return _folder_entries(up, entries)


def uploads_from_folder(path: Path) -> tuple[list[Upload], list[str]]:
    uploads, warnings = [], []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        p = Path(entry.path)
        if entry.is_symlink():
            warnings.append(f"skipped {entry.name}: a symbolic link")
        elif entry.is_dir():
            uploads.append(upload_from_folder(entry.name + "/", p, parse_name(entry.name, folder=True)
                                              or parse_name(entry.name)))
        elif entry.name.lower().endswith(".zip"):
            # (no file times: a copied folder must stage the same; the name's or the manifest's time orders)
            uploads.append(upload_from_zip(entry.name, p))
        elif exercise_tail(entry.name) and entry.name.lower().endswith((".py", ".ipynb")):
            uploads.append(upload_from_file(entry.name, p))      # a bare file: its name says whose
    return uploads, warnings


def is_loose_file(path: Path) -> bool:
    """An exercise file the engine cannot place by itself (no day folder above it, not ``day15_basic.ipynb``):
    ``basic.py`` uploaded bare, ``jdoe_basic.py``, an LMS-named notebook."""
    name = Path(path).name
    if not name.lower().endswith((".py", ".ipynb")) or exercise_tail(name) is None:
        return False
    if Path(path).parent.name in DAYS and name in EXERCISE_NAMES:
        return False
    return not re.fullmatch(r"day\d\d_\w+\.ipynb", name)


def is_archive_target(path: Path) -> bool:
    """Does ``path`` need staging (a zip, or a folder of uploads) rather than the engine's own layouts?"""
    path = Path(path)
    if path.is_symlink():
        return False
    if path.is_file():
        return path.suffix.lower() == ".zip" or is_loose_file(path)
    if not path.is_dir() or (path / "submitted").is_dir() or path.name in DAYS:
        return False
    try:
        entries = [e for e in os.scandir(path) if not e.name.startswith(".")]
    except OSError:
        return False
    if any(e.is_dir(follow_symlinks=False) and e.name in DAYS for e in entries):
        return False
    return any(e.is_file(follow_symlinks=False) and (e.name.lower().endswith(".zip") or is_loose_file(Path(e.path)))
               for e in entries) or \
        any(e.is_dir(follow_symlinks=False) and _MOODLE.fullmatch(e.name) for e in entries)


# ------------------------------------------------------------------------------------------------
# Choosing attempts, staging
# ------------------------------------------------------------------------------------------------

@dataclass
class StagedStudent:
    name: str
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rejected: str | None = None
    graded: list[str] = field(default_factory=list)       # labels of the uploads graded
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)     # for the TA (an identity claim refused, a rename)
    lms: dict = field(default_factory=dict)               # who the LMS says and when: see :func:`_lms_identity`


@dataclass
class Staged:
    root: Path                                            # the class folder to grade
    students: dict[str, StagedStudent]
    warnings: list[str]

    def lines(self) -> list[str]:
        """What the TA's terminal shows: upload names are the students' (escape sequences, a carriage
        return that rewrites a line), so every line is cleaned to one visible line."""
        out = [f"warning: {w}" for w in self.warnings]
        for s in self.students.values():
            if s.rejected:
                out.append(f"{s.name}: {s.rejected}")
            else:
                out.append(f"{s.name}: graded {', '.join(s.graded)}"
                           + (f" (ignored earlier: {', '.join(s.ignored)})" if s.ignored else ""))
            out += [f"{s.name}: {n}" for n in s.notes if ": took " in n]    # a bare file's day, and why
            out += [f"{s.name}: warning: {w}" for w in s.warnings]
        return [clean(line, one_line=True) for line in out]


def _identity(up: Upload) -> tuple[str, str, list[str], list[str]]:
    """(grouping key, folder name, notes for the student, warnings for the TA) of an upload.

    Who uploaded is what the LMS's name says (the LMS knows who logged in); without LMS naming, the
    name the TA's download gave the file or folder (``<id>_dayNN.zip``, ``<id>/``).  The manifest
    is written by ``make submit`` on the student's machine: a student can write any id into it, so it
    never decides whose upload it is (else anyone could replace a classmate's attempt).  A manifest
    that names somebody else is refused and said: the upload is graded as the student the name says,
    and the TA is told, since it may be a classmate's archive handed in as one's own."""
    notes, warnings = [], []
    man = up.manifest if isinstance(up.manifest, dict) else {}
    claimed = man.get("student") if isinstance(man.get("student"), str) else None
    if claimed is not None and not SAFE_ID.fullmatch(claimed):
        notes.append(f"the manifest's student id {claimed!r} is not a plain id (letters, digits, . _ -): ignored")
        claimed = None
    if up.who:
        key, name = up.who.key, up.who.name
        named_by = "the name the LMS gave the upload" if up.who.scheme != "submit" else "the upload's file name"
    else:
        base = slug(re.sub(r"\.zip$", "", (up.owner or up.label).rstrip("/"), flags=re.I)) or "student"
        key, name, named_by = f"user:{base}", base, "the upload's name"
    if claimed and slug(claimed) != name and (up.who is None or up.who.scheme in ("submit", "blackboard")
                                              or slug(claimed) not in name.split("_")):
        notes.append(f"{up.label}: its manifest says student {claimed!r}; graded as {name}, {named_by} "
                     "(the id in a manifest is not trusted)")
        warnings.append(f"{up.label}: its manifest claims student {claimed!r}, refused: graded as {name} "
                        f"({named_by}); check whether it is a classmate's archive")
    return key, name, notes, warnings


def _lms_identity(key: str, attempts: list) -> dict:
    """What the LMS files (Canvas, Moodle) and late work need of a student, from the LMS's own names:
    ``scheme`` (canvas, moodle, blackboard, attempt, submit, or '' for a name the TA gave), ``id`` (the
    LMS's user id, or the user name), ``full_name`` (as the LMS wrote it), ``late`` (Canvas's LATE
    mark on the latest attempt), ``submitted`` (ISO time of the latest attempt, '' unknown) and
    ``submitted_from`` (where that time comes from)."""
    latest = max((a[0] for a in attempts), key=lambda u: (u.when, u.label))
    who = next((a[0].who for a in attempts if a[0].who), None)
    return {"scheme": who.scheme if who else "", "id": key.split(":", 1)[1],
            "full_name": who.full_name if who else "", "late": bool(latest.who and latest.who.late),
            "submitted": latest.when, "submitted_from": latest.when_from if latest.when else ""}


def choose(uploads: list[Upload]) -> dict[str, StagedStudent]:
    """Group uploads by student; per day, the latest attempt wins."""
    groups: dict[str, list[tuple[Upload, str, list[str]]]] = {}
    names: dict[str, str] = {}
    warnings: dict[str, list[str]] = {}
    for up in uploads:
        key, name, notes, said = _identity(up)
        groups.setdefault(key, []).append((up, name, notes))
        names.setdefault(key, name)
        warnings.setdefault(key, []).extend(said)
    # Two students whose names slug the same: the later key gets a suffix.  A name the CLI writes
    # for the class (gradebook.csv, summary_mistakes.png, .lock ...) is never a student's folder.
    used: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for key in sorted(groups):
        name = names[key]
        if outputs.is_reserved(name):
            name = outputs.free_folder(name, {n.casefold() for n in used} | {n.casefold() for n in names.values()})
            renamed[key] = names[key]
        while name in used and used[name] != key:
            name += "_2"
        used[name] = key
        names[key] = name
    students = {}
    for key in sorted(groups, key=lambda k: names[k]):
        name = names[key]
        st = StagedStudent(name, warnings=warnings[key], lms=_lms_identity(key, groups[key]))
        if key in renamed:
            said = (f"your student id {renamed[key]!r} is the name of a file the grader writes for the class; "
                    f"your grades are in the folder {name!r}")
            st.notes.append(said)
            st.warnings.append(said.replace("your student id", "student id").replace("your grades", "their grades"))
        attempts = sorted(groups[key], key=lambda t: (t[0].when, t[0].label))
        for up, _, notes in attempts:
            for n in notes:
                if n not in st.notes:
                    st.notes.append(n)
        good = [(up, n) for up, _, n in attempts if not up.error]
        latest = attempts[-1][0]
        if latest.error or not good:
            why = latest.error if latest.error.startswith(latest.label) else f"{latest.label}: {latest.error}"
            st.rejected = f"your upload was rejected: {why}"
            st.graded = [latest.label]
            st.ignored = [u.label for u, _, _ in attempts[:-1]]
            st.notes.insert(0, st.rejected)
            if len(attempts) > 1:
                st.notes.append(f"earlier upload(s) not graded: {', '.join(st.ignored)} (only the latest counts)")
            students[name] = st
            continue
        used_uploads = []
        for day in DAYS:
            for up, _ in reversed(good):
                if day in up.files:
                    st.files[day] = up.files[day]
                    if up not in used_uploads:
                        used_uploads.append(up)
                    break
        if not used_uploads:
            used_uploads = [good[-1][0]]
        for up in used_uploads:
            st.notes.extend(n for n in up.notes if n not in st.notes)
        st.graded = [u.label for u in sorted(used_uploads, key=lambda u: (u.when, u.label))]
        st.ignored = [u.label for u, _, _ in attempts if u not in used_uploads]
        for up in sorted(used_uploads, key=lambda u: (u.when, u.label)):
            days = ", ".join(d for d in DAYS if st.files.get(d) is up.files.get(d) and d in up.files)
            when = f", {up.when.replace('T', ' ')}" if up.when else ""
            late = " (late)" if up.who and up.who.late else ""
            st.notes.append(f"graded upload {up.label}{when}{late}" + (f" for {days}" if days else "")
                            + ("" if up.files else ": nothing in it could be graded (see above)"
                               if up.undated_ignored else ": it holds no exercise file"))
        if st.ignored:
            st.notes.append(f"not graded (an attempt of yours uploaded later replaces them): {', '.join(st.ignored)}")
        students[name] = st
    for st in students.values():     # (upload names are the students': shown to the student and the TA)
        st.notes = [clean(n, one_line=True) for n in st.notes]
        st.rejected = clean(st.rejected, one_line=True) if st.rejected else None
    return students


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    items = [path] if path.is_file() else sorted(
        Path(top, n) for top, dirs, names in os.walk(path) for n in names
        if not any(part.startswith(".") for part in Path(top, n).relative_to(path).parts))
    for p in items:
        h.update(str(p.relative_to(path if path.is_dir() else path.parent)).encode() + b"\0")
        try:
            st = p.lstat()
            h.update(f"{st.st_size}\0{st.st_mtime_ns}\0".encode())
        except OSError:
            continue
    return h.hexdigest()[:16]


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def stage(target: Path, out: Path, day: str | None = None) -> Staged:
    """Stage the uploads of ``target`` (a zip, a folder, or one bare exercise file) as a class under
    ``out/.staging/``.  ``day`` (the TA's ``DAY``/``--day``) is the day of exercise files that come without
    one; without it, the download's name (``Day 15 submissions.zip``) when it names one day; else such a
    file is not graded and both the student's notes and the TA's terminal say why."""
    target = Path(target).absolute()
    if target.is_symlink():
        raise ArchiveError(f"{target} is a symbolic link: give the real path")
    if not target.exists():
        raise ArchiveError(f"{target} does not exist")
    if target.is_file() and is_loose_file(target):
        uploads, warnings = [upload_from_file(target.name, target)], []
    elif target.is_file():
        uploads, warnings = uploads_from_bulk(target)
    else:
        uploads, warnings = uploads_from_folder(target)
    named = days_named(target.name)
    hint = ((day, f"the day given to make grade: DAY={day[3:]}") if day else
            (named[0], f"the download's name {target.name!r} says {named[0]}") if len(named) == 1 else None)
    if hint is None and target.is_file() and is_loose_file(target) and uploads[0].undated:
        raise ArchiveError(f"{target.name} is an exercise file, but nothing says which day it is for: give the day "
                           f"(make grade SUBMISSIONS=... DAY={DAYS[0][3:]}, or --day {DAYS[0][3:]})")
    for up in uploads:
        warnings.extend(resolve_undated(up, hint))
    if not uploads:
        raise ArchiveError(f"{target} holds no student upload (no .zip file, no per-student folder)")
    students = choose(uploads)
    out = Path(out).absolute()
    base = out / STAGING
    base.mkdir(parents=True, exist_ok=True)
    root = base / _digest(target)
    _prune(out, base, keep=root.name)
    tmp = base / f".{root.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    summary = {}
    for name, st in students.items():
        folder = tmp / name
        folder.mkdir()
        for day, files in sorted(st.files.items()):
            (folder / day).mkdir()
            for fname, data in sorted(files.items()):
                if fname not in EXERCISE_NAMES:          # (only ever names from our own list)
                    continue
                _write_new(folder / day / fname, data)
        entry = {"notes": st.notes, "rejected": st.rejected, "graded": st.graded, "ignored": st.ignored}
        _write_new(folder / STUDENT_NOTES, (json.dumps(entry, indent=1, sort_keys=True) + "\n").encode())
        summary[name] = entry
    _write_new(tmp / NOTES_FILE, (json.dumps({"students": summary, "warnings": warnings}, indent=1,
                                             sort_keys=True) + "\n").encode())
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    return Staged(root, students, warnings)


def _prune(out: Path, base: Path, keep: str) -> None:
    """Drop older staging folders, unless a grading run holds the output folder now."""
    lock = out / outputs.LOCK
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return
    try:
        for entry in os.scandir(base):
            if entry.name != keep and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
    finally:
        os.close(fd)

