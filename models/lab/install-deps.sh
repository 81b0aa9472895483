#!/bin/bash
# Installs every Debian (and npm) package the traffic lab needs.
# Daemons are NOT started by apt here (policy-rc.d); the lab starts each one by
# hand inside its own network namespace.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  iproute2 iputils-ping ethtool tcpdump tshark procps psmisc socat openssl ca-certificates \
  gcc libc6-dev \
  baresip-core espeak-ng sox gstreamer1.0-tools gstreamer1.0-plugins-base \
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
  ffmpeg nginx-light mpv \
  prosody python3-slixmpp ngircd \
  openssh-server openssh-client rsync vsftpd lftp curl \
  openvpn wireguard-tools wireguard-go tor \
  chromium chromium-driver python3-selenium fonts-dejavu-core
echo "install-deps: done"
