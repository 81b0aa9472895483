#!/usr/bin/python3
"""Chat participants for the lab: real XMPP (slixmpp) and IRC-over-TLS clients whose
'user' is a script with human-like timing.

Timing model (per bot, drawn from --seed):
  - think time before writing: lognormal, median 4 s (shorter right after receiving a
    message: a reply);
  - typing speed 2.5-7 characters/s; XMPP sends chat states (composing/paused/active,
    XEP-0085) like real clients do while typing;
  - bursts: with p=0.25 a second/third short message follows within 1-3 s;
  - idle phases: with p=0.08 after a message the user goes away for 20-90 s
    (the client keeps the connection alive with pings);
  - message texts from corpus/chat.txt.
Usage: chatbots.py --proto xmpp|irc --role a|b --host H --port P --duration S --seed N
"""
import argparse
import asyncio
import logging
import math
import os
import random
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def corpus():
    with open(os.path.join(HERE, "corpus", "chat.txt")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


class Human:
    def __init__(self, rng):
        self.rng = rng
        self.cps = rng.uniform(2.5, 7.0)
        self.lines = corpus()
        self.got_message = asyncio.Event()

    def think(self):
        if self.got_message.is_set():
            self.got_message.clear()
            return min(30.0, self.rng.lognormvariate(math.log(2.0), 0.6))
        return min(60.0, self.rng.lognormvariate(math.log(4.0), 0.9))

    async def wait_think(self):
        t = self.think()
        try:
            await asyncio.wait_for(self.got_message.wait(), timeout=t)
            # a message arrived while thinking: reply after reading it
            await asyncio.sleep(self.rng.uniform(0.8, 3.0))
        except asyncio.TimeoutError:
            pass

    async def conversation(self, send, typing, deadline):
        while time.time() < deadline:
            await self.wait_think()
            n = 1
            if self.rng.random() < 0.25:
                n = self.rng.randint(2, 3)
            for k in range(n):
                msg = self.rng.choice(self.lines)
                if typing:
                    typing("composing")
                # typing time; sometimes a pause in the middle
                t = len(msg) / self.cps
                if typing and t > 4 and self.rng.random() < 0.3:
                    await asyncio.sleep(t / 2)
                    typing("paused")
                    await asyncio.sleep(self.rng.uniform(1, 4))
                    typing("composing")
                    await asyncio.sleep(t / 2)
                else:
                    await asyncio.sleep(t)
                if time.time() >= deadline:
                    return
                send(msg)
                if k + 1 < n:
                    await asyncio.sleep(self.rng.uniform(1.0, 3.0))
            if self.rng.random() < 0.08:
                if typing:
                    typing("inactive")
                await asyncio.sleep(min(self.rng.uniform(20, 90), max(0, deadline - time.time())))


# ---------------------------------------------------------------- XMPP
def run_xmpp(a):
    import slixmpp
    me, peer = ("alice", "bob") if a.role == "a" else ("bob", "alice")
    jid = "%s@chat.lab.test/lab%d" % (me, os.getpid())
    peer_jid = "%s@chat.lab.test" % peer
    rng = random.Random(a.seed * 7 + (1 if a.role == "a" else 2))
    human = None
    deadline = time.time() + a.duration

    class Bot(slixmpp.ClientXMPP):
        def __init__(self):
            super().__init__(jid, "labpass")
            self.register_plugin("xep_0030")
            self.register_plugin("xep_0085")
            self.register_plugin("xep_0199", {"keepalive": True, "interval": rng.randint(30, 90)})
            self.add_event_handler("session_start", self.start)
            self.add_event_handler("message", self.on_msg)

        async def start(self, ev):
            nonlocal human
            self.send_presence()
            await self.get_roster()
            human = Human(rng)

            def send(m):
                self.send_message(mto=peer_jid, mbody=m, mtype="chat")

            def typing(state):
                msg = self.make_message(mto=peer_jid, mtype="chat")
                msg["chat_state"] = state
                msg.send()
            await human.conversation(send, typing, deadline)
            self.disconnect()

        def on_msg(self, msg):
            if human and msg["type"] in ("chat", "normal") and msg["body"]:
                human.got_message.set()

    b = Bot()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    b.ssl_context = ctx
    b.connect((a.host, a.port))
    b.process(forever=False)


# ---------------------------------------------------------------- IRC
async def irc_main(a):
    rng = random.Random(a.seed * 11 + (1 if a.role == "a" else 2))
    nick = ("anna" if a.role == "a" else "ben") + str(rng.randint(10, 99))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname="irc.lab.test")
    human = Human(rng)
    deadline = time.time() + a.duration

    def out(line):
        writer.write((line + "\r\n").encode())

    out("NICK " + nick)
    out("USER %s 0 * :Lab User" % nick)
    joined = asyncio.Event()

    async def reader_task():
        while True:
            line = await reader.readline()
            if not line:
                return
            s = line.decode(errors="replace").rstrip("\r\n")
            parts = s.split()
            if s.startswith("PING"):
                out("PONG " + s[5:])
            elif len(parts) > 1 and parts[1] == "001":
                out("JOIN #lab")
            elif len(parts) > 1 and parts[1] == "JOIN":
                joined.set()
            elif len(parts) > 1 and parts[1] == "PRIVMSG":
                human.got_message.set()

    rt = asyncio.ensure_future(reader_task())
    await asyncio.wait_for(joined.wait(), timeout=30)
    # clients ping the server now and then (irssi/weechat lag checks)
    async def lag():
        while True:
            await asyncio.sleep(rng.uniform(30, 60))
            out("PING :lag%d" % int(time.time()))
    lt = asyncio.ensure_future(lag())
    await human.conversation(lambda m: out("PRIVMSG #lab :" + m), None, deadline)
    out("QUIT :bye")
    await writer.drain()
    await asyncio.sleep(0.5)
    lt.cancel()
    rt.cancel()
    writer.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", required=True, choices=["xmpp", "irc"])
    ap.add_argument("--role", required=True, choices=["a", "b"])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if a.proto == "xmpp":
        run_xmpp(a)
    else:
        asyncio.get_event_loop().run_until_complete(irc_main(a))


if __name__ == "__main__":
    main()
