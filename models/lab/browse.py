#!/usr/bin/python3
"""The 'user' of the browsing sessions: drives headless Chromium through chromedriver's
plain WebDriver HTTP API, or runs wget2 with page requisites, page after page.

Behaviour (drawn from the seed): start on a random site; after each page load read for a
think time uniform in THINK=(lo,hi) seconds, scroll now and then (chromium); then with
p=0.75 click a link on the page, else type another site's address."""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request


def wd(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:9515" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read().decode())["value"]


def main():
    spec = json.load(open(sys.argv[1]))
    a = spec["args"]
    opt = {a[i][2:]: a[i + 1] if i + 1 < len(a) and not a[i + 1].startswith("--") else True
           for i in range(len(a)) if a[i].startswith("--")}
    duration = float(opt["duration"])
    rng = random.Random(int(opt["seed"]))
    lo, hi = (float(x) for x in opt["think"].split(","))
    sites = opt["sites"].split(",")
    deadline = time.time() + duration
    url = rng.choice(sites)
    if opt["driver"] == "chromedriver":
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/lib/chromium/chromium", "args": spec["chrome_args"]}}}}
        sid = wd("POST", "/session", caps)["sessionId"]
        # browser is up: tell the session runner (it starts the capture), wait for 'go'
        wd("POST", "/session/%s/url" % sid, {"url": "about:blank"})
        open(opt["ready"], "w").close()
        while not os.path.exists(opt["ready"] + ".go"):
            time.sleep(0.1)
        deadline = time.time() + duration
        try:
            while time.time() < deadline:
                try:
                    wd("POST", "/session/%s/url" % sid, {"url": url})
                except Exception as e:  # a slow page under a tight deadline: go on
                    print("load error", e, flush=True)
                think = rng.uniform(lo, hi)
                t_end = min(deadline, time.time() + think)
                while time.time() < t_end:
                    time.sleep(min(t_end - time.time(), rng.uniform(1, 4)))
                    if rng.random() < 0.5 and time.time() < t_end:
                        wd("POST", "/session/%s/execute/sync" % sid,
                           {"script": "window.scrollBy(0, %d)" % rng.randint(200, 900), "args": []})
                links = wd("POST", "/session/%s/execute/sync" % sid,
                           {"script": "return Array.from(document.links).map(a => a.href)", "args": []}) or []
                if links and rng.random() < 0.75:
                    url = rng.choice(links)
                else:
                    url = rng.choice(sites) + "page%d.html" % rng.randrange(6)
        finally:
            try:
                wd("DELETE", "/session/%s" % sid)
            except Exception:
                pass
    else:
        open(opt["ready"], "w").close()
        while not os.path.exists(opt["ready"] + ".go"):
            time.sleep(0.1)
        deadline = time.time() + duration
        work = opt["workdir"]
        env = dict(os.environ)
        # through Tor: torsocks (wget2 has no SOCKS support, and its HTTPS-proxy mode
        # failed here); TCP Fast Open must be off for torsocks
        pre = ["torsocks"] if opt.get("tor") else []
        while time.time() < deadline:
            if os.path.exists(work):
                shutil.rmtree(work)
            os.makedirs(work)
            cmd = pre + ["wget2", "-q", "--no-check-certificate", "--page-requisites", "--span-hosts",
                         "--no-robots", "--max-threads=%d" % rng.randint(2, 6), "--http2"] + \
                (["--no-tcp-fastopen"] if opt.get("tor") else []) + [
                         "--no-host-directories", "--directory-prefix", work,
                         "--user-agent=Mozilla/5.0 (X11; Linux x86_64) lab", url]
            try:
                subprocess.run(cmd, timeout=max(1, deadline - time.time()), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
            except subprocess.TimeoutExpired:
                break
            links = []
            for root, _, files in os.walk(work):
                for fn in files:
                    if fn.endswith(".html"):
                        links += re.findall(r"href='(page\d\.html)'", open(os.path.join(root, fn)).read())
            time.sleep(min(max(0, deadline - time.time()), rng.uniform(lo, hi)))
            base = url.rsplit("/", 1)[0] + "/"
            if links and rng.random() < 0.75:
                url = base + rng.choice(links)
            else:
                url = rng.choice(sites) + "page%d.html" % rng.randrange(6)


if __name__ == "__main__":
    main()
