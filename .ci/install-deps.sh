#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use: real Postfix, Knot DNS,
# Unbound and the independent oracles (miltertest, python3-dkim, OpenDKIM, hash-slinger,
# xmllint, Chromium). Idempotent; safe to run on a developer machine as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(
  postfix swaks
  knot knot-dnsutils unbound ldnsutils
  miltertest python3-dkim opendkim opendkim-tools opendmarc rspamd
  hash-slinger libxml2-utils chromium openssl systemd
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  # No init here: keep package scripts from starting daemons (our tests start their own).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string mailanchor.test" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
