"""Shared helpers for the TrafficTriage data converters (standard library only).

Run the converters with Debian's interpreter: /usr/bin/python3.
"""

import os
import re
import shutil
import sys

TTSERIES_MAGIC = "#ttseries v1"
TTMANIFEST_MAGIC = "#ttmanifest v1"

# group / label / flow ids must not contain whitespace (the format is tab and
# space separated); attrs keys/values must not contain the separators ; = or whitespace.
_BAD_ID = re.compile(r"\s")
_BAD_ATTR = re.compile(r"[\s;=]")


def fmt_us(us):
    """Microseconds (int) -> seconds with exactly 6 decimals, no float rounding."""
    if us < 0:
        return "-" + fmt_us(-us)
    return "%d.%06d" % (us // 1000000, us % 1000000)


def parse_seconds_to_us(text):
    """'12.345678912' -> 12345679 (microseconds, rounded half up). Raises ValueError."""
    if text.startswith("-"):
        raise ValueError("negative time: %r" % text)
    whole, _, frac = text.partition(".")
    if not whole:
        whole = "0"
    if not (whole.isdigit() and (frac == "" or frac.isdigit())):
        raise ValueError("not a decimal time: %r" % text)
    frac9 = (frac + "000000000")[:9]
    ns = int(whole) * 1000000000 + int(frac9)
    if len(frac) > 9 and frac[9] >= "5":  # more than ns precision: round at ns
        ns += 1
    return (ns + 500) // 1000


def attrs_str(pairs):
    """[(key, value), ...] -> 'k=v;k=v' (or '-' when empty). Validates characters."""
    if not pairs:
        return "-"
    out = []
    for k, v in pairs:
        k, v = str(k), str(v)
        if not k or _BAD_ATTR.search(k) or _BAD_ATTR.search(v):
            raise ValueError("bad attr %r=%r" % (k, v))
        out.append("%s=%s" % (k, v))
    return ";".join(out)


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_vals:
        return None
    if p <= 0:
        return sorted_vals[0]
    n = len(sorted_vals)
    rank = -(-p * n // 100)  # ceil(p*n/100)
    rank = min(max(int(rank), 1), n)
    return sorted_vals[rank - 1]


class AtomicText:
    """Write a text file under a temporary name, rename into place on close()."""

    def __init__(self, path):
        self.path = path
        self.tmp = path + ".part"
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="\n")

    def write(self, s):
        self.fh.write(s)

    def close(self):
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self):
        self.fh.close()
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


class TTSeriesWriter:
    """Writes one flow per line in the ttseries v1 format and checks every record."""

    def __init__(self, path, comments=()):
        self.out = AtomicText(path)
        self.path = path
        self.flows = 0
        self.packets = 0
        self.out.write(TTSERIES_MAGIC + "\n")
        for c in comments:
            for line in str(c).splitlines() or [""]:
                self.out.write("# " + line + "\n")

    def write(self, group, label, flow, attrs, times_us, sizes):
        for name, val in (("group", group), ("label", label), ("flow", flow)):
            if not val or _BAD_ID.search(val):
                raise ValueError("bad %s id %r" % (name, val))
        if len(times_us) != len(sizes) or not sizes:
            raise ValueError("flow %s: %d times vs %d sizes" % (flow, len(times_us), len(sizes)))
        prev = None
        for t in times_us:
            if prev is not None and t < prev:
                raise ValueError("flow %s: times not sorted" % flow)
            prev = t
        for s in sizes:
            if not isinstance(s, int) or s <= 0:
                raise ValueError("flow %s: bad size %r" % (flow, s))
        self.out.write("\t".join((
            group, label, flow,
            attrs if isinstance(attrs, str) else attrs_str(attrs),
            " ".join(fmt_us(t) for t in times_us),
            " ".join(str(s) for s in sizes),
        )) + "\n")
        self.flows += 1
        self.packets += len(sizes)

    def close(self):
        self.out.close()

    def abort(self):
        self.out.abort()


def sort_by_time(times_us, sizes):
    """Stable sort of a packet series by time. Returns (times, sizes, was_unsorted)."""
    if all(times_us[i] <= times_us[i + 1] for i in range(len(times_us) - 1)):
        return times_us, sizes, False
    order = sorted(range(len(times_us)), key=lambda i: times_us[i])
    return [times_us[i] for i in order], [sizes[i] for i in order], True


def remove_path(path):
    """Delete a file, link or folder tree (before writing it anew); no error if absent."""
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def log(*args):
    print(*args, file=sys.stdout, flush=True)
