#!/bin/bash
# Installs every Debian package the traffic lab needs (no npm packages are used: the
# browser is driven through chromedriver's plain WebDriver HTTP API).
# The lab starts every daemon by hand inside its own network namespace; none may run in
# the host namespace.  Machines of this project have a policy-rc.d that stops apt from
# starting services; where there is none, a temporary one is put in place for the install.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
tmp_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  tmp_policy=1
fi
cleanup() { if [ "$tmp_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
apt-get update -q
apt-get install -y -q --no-install-recommends \
  iproute2 iputils-ping ethtool tcpdump tshark procps psmisc socat openssl ca-certificates \
  gcc libc6-dev \
  baresip-core espeak-ng sox gstreamer1.0-tools gstreamer1.0-plugins-base \
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
  python3-gi gir1.2-gstreamer-1.0 \
  ffmpeg nginx-light mpv dnsmasq-base \
  prosody python3-slixmpp ngircd \
  openssh-server openssh-client rsync vsftpd lftp curl \
  openvpn wireguard-go wireguard-tools tor torsocks \
  chromium chromium-driver wget2 fonts-dejavu-core
echo "install-deps: done"
