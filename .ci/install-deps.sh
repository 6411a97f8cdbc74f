#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use: real Postfix, Knot DNS,
# Unbound, PostgreSQL (the fleet store; tests run their own cluster with initdb + pg_ctl)
# and the independent oracles (miltertest, python3-dkim and python3-authres, which its ARC
# sealing needs, OpenDKIM, hash-slinger, xmllint, Chromium), and for the deployment test
# Dovecot (SASL for the submission service) and swaks' TLS (libnet-ssleay-perl).
# Idempotent; safe to run on a developer machine as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(
  postfix swaks libnet-ssleay-perl dovecot-core
  knot knot-dnsutils unbound ldnsutils
  miltertest python3-dkim python3-authres opendkim opendkim-tools opendmarc rspamd
  hash-slinger libxml2-utils chromium openssl systemd
  dmarc-cat
  postgresql
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

# RFC 7489 Appendix C's schema as Debian ships it in libmail-dmarc-perl, extracted without
# installing that package and its Perl dependencies: tests stay off the network.
XSD_7489=/usr/local/share/mailanchor-test/rua-7489.xsd
if [ ! -s "$XSD_7489" ]; then
  work=$(mktemp -d)
  (cd "$work" && apt-get download -q libmail-dmarc-perl && dpkg-deb -x ./*.deb root)
  install -D -m 0644 "$work/root/usr/share/perl5/auto/share/dist/Mail-DMARC/rua-schema.xsd" "$XSD_7489"
  rm -rf "$work"
fi
