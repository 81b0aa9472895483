#!/usr/bin/python3
"""The 'user' of the file-transfer sessions: repeated downloads/uploads with one real
tool (scp, sftp, rsync over OpenSSH; lftp or curl over FTPS; curl over HTTPS), file
sizes drawn from the cache's pool (1-120 MB), pauses of 0.5-8 s between transfers.
With --tor: ssh through a socat SOCKS4A ProxyCommand, curl with --socks5, and lftp is
replaced by curl (lftp cannot use SOCKS)."""
import argparse
import os
import random
import subprocess
import time

ap = argparse.ArgumentParser()
for k in ("duration", "seed", "tool", "host", "cache", "workdir", "upload-share"):
    ap.add_argument("--" + k, required=True)
ap.add_argument("--tor", action="store_true")
a = ap.parse_args()
rng = random.Random(int(a.seed))
deadline = time.time() + float(a.duration)
os.makedirs(a.workdir, exist_ok=True)
files = sorted(f for f in os.listdir(os.path.join(a.cache, "files")) if f.endswith(".bin"))
key = os.path.join(a.cache, "client_ed25519")
ssh_opts = ["-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]
if a.tor:
    ssh_opts += ["-o", "ProxyCommand=socat - SOCKS4A:127.0.0.1:%h:%p,socksport=9050"]
socks = ["--socks5-hostname", "127.0.0.1:9050"] if a.tor else []
tool = a.tool
if a.tor and tool == "ftps-lftp":
    tool = "ftps-curl"
h = a.host
while time.time() < deadline:
    f = rng.choice(files)
    local = os.path.join(a.cache, "files", f)
    up = rng.random() < float(a.upload_share)
    tmp = os.path.join(a.workdir, "dl.bin")
    if tool == "scp":
        cmd = ["scp", "-q"] + ssh_opts + ([local, "root@%s:/tmp/tt-upload.bin" % h] if up else
                                          ["root@%s:%s" % (h, local), "/dev/null"])
    elif tool == "sftp":
        batch = os.path.join(a.workdir, "batch")
        with open(batch, "w") as b:
            b.write(("put %s /tmp/tt-upload.bin\n" % local) if up else ("get %s /dev/null\n" % local))
        cmd = ["sftp", "-q", "-b", batch] + ssh_opts + ["root@%s" % h]
    elif tool == "rsync":
        cmd = ["rsync", "-q", "--inplace", "-e", "ssh " + " ".join("'%s'" % o for o in ssh_opts)] + \
              ([local, "root@%s:/tmp/tt-upload.bin" % h] if up else ["root@%s:%s" % (h, local), tmp])
    elif tool == "ftps-lftp":
        op = ("put %s -o upload/u%d.bin" % (local, rng.randrange(10**6))) if up else ("get files/%s -o %s" % (f, tmp))
        cmd = ["lftp", "-c", "set ssl:verify-certificate no; set ftp:ssl-force true; "
               "set ftp:ssl-protect-data true; set ftp:passive-mode true; open -u anonymous, ftp://%s; %s" % (h, op)]
    elif tool == "ftps-curl":
        cmd = ["curl", "-s", "-k", "--ssl-reqd", "--ftp-pasv"] + socks + \
              (["-T", local, "ftp://%s/upload/u%d.bin" % (h, rng.randrange(10**6))] if up else
               ["-o", "/dev/null", "ftp://%s/files/%s" % (h, f)])
    else:  # https-curl
        cmd = ["curl", "-s", "-k", "--http2"] + socks + \
              (["-T", local, "https://%s/upload" % h, "-o", "/dev/null"] if up else
               ["-o", "/dev/null", "https://%s/files/%s" % (h, f)])
    try:
        subprocess.run(cmd, timeout=max(1, deadline - time.time()), stdout=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        break
    if os.path.exists(tmp):
        os.remove(tmp)
    time.sleep(min(max(0, deadline - time.time()), rng.uniform(0.5, 8)))
