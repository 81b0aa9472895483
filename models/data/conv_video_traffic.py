#!/usr/bin/python3
"""Convert the Video-traffic-dataset CSVs to ttseries (one flow per direction per session).

usage: /usr/bin/python3 conv_video_traffic.py RAW_DIR OUT_DIR
  RAW_DIR  the unpacked archive (holds Dataset/<Platform>/<res>/*.csv)
  OUT_DIR  gets video-traffic.ttseries (label video) and video-platform.ttseries
           (label = platform), same groups and flows in both.

Findings this converter relies on (see README.md in this folder):
  * `len` is the captured frame length (Ethernet, 14-byte header): IP length = |len| - 14.
  * The sign convention in the data set README ("negative = uplink") is reversed in
    2205 of 2218 sessions: the negative packets carry the video.  The remaining 13
    sessions use the other sign.  So downlink is decided per session as the sign
    that carries more bytes (ratios are about 100:1, never ambiguous).
  * Received frames shorter than 60 bytes are padded to 60 on the wire; a downlink
    frame of exactly 60 bytes is a padded pure TCP ACK (IP length 40), not 46.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ttcommon import TTSeriesWriter, attrs_str, sort_by_time, log  # noqa: E402

ETH_HDR = 14
MIN_ETH_FRAME = 60
PADDED_ACK_IP_LEN = 40
SOURCE = "GitHub UUuUUuUUo/Video-traffic-dataset @ 8cdaeb4bcd134e01bd429c8cd56fd245d321749c"

PLATFORMS = {"youtube": "youtube", "bilibili": "bilibili", "twitch": "twitch"}
# Transport as stated by the data set README; Bilibili mixes TLS/TCP and QUIC,
# so for it the transport is guessed per session from the full-size frames.
README_L4 = {"youtube": "udp", "twitch": "tcp"}


def guess_l4(down_frames, up_frames):
    """Bilibili: full-size TCP segments are 1514-byte frames (MSS 1460, no TCP options),
    full-size QUIC packets are 1292-byte frames (1250-byte UDP payload)."""
    n_tcp = sum(1 for f in down_frames if f == 1514) + sum(1 for f in up_frames if f == 54)
    n_quic = sum(1 for f in down_frames if f == 1292)
    if n_tcp == 0 and n_quic == 0:
        return "unknown"
    if n_tcp > 0 and n_quic > 0 and min(n_tcp, n_quic) >= 0.05 * max(n_tcp, n_quic):
        return "mixed"
    return "tcp" if n_tcp > n_quic else "udp"


def read_sessions(path, stats):
    """Yield (session_id, [(rel_ts_us, len), ...]) for one merged CSV file."""
    sid = None
    pkts = []
    with open(path, "r", encoding="utf-8", errors="replace", newline="") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line:
                stats["blank_lines"] += 1
                continue
            if line.startswith("session,"):
                if sid is not None:
                    yield sid, pkts
                sid = line.split(",", 1)[1].strip()
                pkts = []
                continue
            if line.replace(" ", "") == "rel_ts_us,len":
                continue
            parts = line.split(",")
            try:
                if len(parts) != 2 or sid is None:
                    raise ValueError
                ts, ln = int(parts[0]), int(parts[1])
                if ts < 0 or ln == 0:
                    raise ValueError
            except ValueError:
                stats["odd_lines"] += 1
                if stats["odd_lines"] <= 5:
                    log("  odd line %s:%d: %r" % (path, lineno, line[:80]))
                continue
            pkts.append((ts, ln))
    if sid is not None:
        yield sid, pkts


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    raw_dir, out_dir = argv[1], argv[2]
    base = os.path.join(raw_dir, "Dataset")
    if not os.path.isdir(base):
        sys.stderr.write("no Dataset/ under %s\n" % raw_dir)
        return 1

    stats = {k: 0 for k in ("files", "sessions", "blank_lines", "odd_lines", "flows",
                            "empty_dir", "sign_pos_is_down", "resorted_flows",
                            "unpadded_60", "frames_over_1514", "tiny_frames_skipped",
                            "dup_session_ids")}
    comments = [
        "source: " + SOURCE + " (cite the data set; authors ask to be contacted)",
        "converter: models/data/conv_video_traffic.py",
        "one line per session and direction; a session may merge several transport flows",
        "sizes = IP total length = |len| - 14 (len is the Ethernet frame length);"
        " downlink 60-byte frames (padded ACKs) -> 40",
        "dir: downlink = the sign carrying more bytes in the session (attr sign= gives the CSV sign)",
        "times = rel_ts_us / 1e6 (seconds since the session's first packet)",
    ]
    w_video = TTSeriesWriter(os.path.join(out_dir, "video-traffic.ttseries"),
                             comments + ["label: video (task: category)"])
    w_plat = TTSeriesWriter(os.path.join(out_dir, "video-platform.ttseries"),
                            comments + ["label: platform youtube|bilibili|twitch (task: platform)"])
    try:
        seen_groups = set()
        for pdir in sorted(os.listdir(base)):
            platform = PLATFORMS.get(pdir.lower())
            if platform is None or not os.path.isdir(os.path.join(base, pdir)):
                log("  skipping unknown platform dir %r" % pdir)
                continue
            for res in sorted(os.listdir(os.path.join(base, pdir))):
                rdir = os.path.join(base, pdir, res)
                if not os.path.isdir(rdir):
                    continue
                for fname in sorted(os.listdir(rdir)):
                    if not fname.endswith(".csv"):
                        continue
                    stats["files"] += 1
                    stem = fname[:-4]
                    for sid, pkts in read_sessions(os.path.join(rdir, fname), stats):
                        stats["sessions"] += 1
                        group = "video/%s/%s/%s/%s" % (platform, res, stem, sid)
                        if group in seen_groups:
                            stats["dup_session_ids"] += 1
                            group += "#%d" % stats["sessions"]
                        seen_groups.add(group)
                        emit_session(w_video, w_plat, group, platform, res, pkts, stats)
    except BaseException:
        w_video.abort()
        w_plat.abort()
        raise
    w_video.close()
    w_plat.close()
    log("video-traffic: " + ", ".join("%s=%d" % kv for kv in stats.items()))
    return 0


def emit_session(w_video, w_plat, group, platform, res, pkts, stats):
    bytes_neg = sum(-ln for _, ln in pkts if ln < 0)
    bytes_pos = sum(ln for _, ln in pkts if ln > 0)
    down_sign = -1 if bytes_neg >= bytes_pos else 1
    if down_sign == 1:
        stats["sign_pos_is_down"] += 1
    frames = {"down": [], "up": []}
    for ts, ln in pkts:
        d = "down" if (ln > 0) == (down_sign > 0) else "up"
        frames[d].append((ts, abs(ln)))
    if platform in README_L4:
        l4, l4_src = README_L4[platform], "readme"
    else:
        l4 = guess_l4([f for _, f in frames["down"]], [f for _, f in frames["up"]])
        l4_src = "sizes"
    for d in ("down", "up"):
        times, sizes = [], []
        for ts, frame in frames[d]:
            if frame > 1514:
                stats["frames_over_1514"] += 1  # segmentation offload on the capturing host
            if d == "down" and frame == MIN_ETH_FRAME:
                ip = PADDED_ACK_IP_LEN
                stats["unpadded_60"] += 1
            else:
                ip = frame - ETH_HDR
            if ip <= 0:
                stats["tiny_frames_skipped"] += 1
                continue
            times.append(ts)
            sizes.append(ip)
        if not sizes:
            stats["empty_dir"] += 1
            continue
        times, sizes, resorted = sort_by_time(times, sizes)
        stats["resorted_flows"] += resorted
        sign = "neg" if (d == "down") == (down_sign < 0) else "pos"
        attrs = attrs_str([("source", "video-traffic"), ("platform", platform), ("res", res),
                           ("dir", d), ("tunnel", "none"), ("l4", l4), ("l4_from", l4_src),
                           ("sign", sign)])
        flow = group + "/" + d
        w_video.write(group, "video", flow, attrs, times, sizes)
        w_plat.write(group, platform, flow, attrs, times, sizes)
        stats["flows"] += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
