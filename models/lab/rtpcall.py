#!/usr/bin/python3
"""Symmetric RTP endpoint built from GStreamer elements (PyGObject).

gst-launch cannot make udpsrc and udpsink share one socket, so a gst-launch call sends
from a different port than it receives on, and each direction is a separate flow.  Real
VoIP/video-call endpoints use symmetric RTP (RFC 4961): one socket per media stream,
sending and receiving on the same port.  This program binds one UDP socket per stream
and gives it to both a udpsrc (receive, into fakesink) and a udpsink (send, real-time
paced).

usage: rtpcall.py --stream 'LOCALIP:PORT REMOTEIP:PORT SENDER-PIPELINE' [--stream ...]
                  --duration SECONDS
SENDER-PIPELINE is a gst-launch description ending in an RTP payloader, e.g.
'filesrc location=a.wav ! wavparse ! audioconvert ! audioresample ! opusenc ! rtpopuspay'.
"""
import argparse
import sys

import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gio, GLib, Gst  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stream", action="append", required=True)
    ap.add_argument("--duration", type=float, required=True)
    a = ap.parse_args()
    Gst.init(None)
    pipe = Gst.Pipeline.new("call")
    for i, spec in enumerate(a.stream):
        local, remote, sender = spec.split(" ", 2)
        lip, lport = local.rsplit(":", 1)
        rip, rport = remote.rsplit(":", 1)
        sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP)
        sock.bind(Gio.InetSocketAddress.new_from_string(lip, int(lport)), True)
        send = Gst.parse_bin_from_description(
            "%s ! udpsink name=out%d host=%s port=%s sync=true async=false close-socket=false" % (sender, i, rip, rport), False)
        send.get_by_name("out%d" % i).set_property("socket", sock)
        recv = Gst.parse_bin_from_description("udpsrc name=in%d close-socket=false ! fakesink sync=false async=false" % i, False)
        recv.get_by_name("in%d" % i).set_property("socket", sock)
        pipe.add(send)
        pipe.add(recv)
    loop = GLib.MainLoop()

    def on_msg(bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print("rtpcall: error:", err.message, dbg, file=sys.stderr, flush=True)
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()
    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_msg)
    pipe.set_state(Gst.State.PLAYING)
    GLib.timeout_add(int(a.duration * 1000), loop.quit)
    try:
        loop.run()
    finally:
        pipe.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
