#!/bin/sh
# contrib/systemd's units pass `systemd-analyze verify` with nothing to say,
# checked from a temporary copy whose ExecStart is the built binary, and
# keep the settings docs/operations.md promises. Exit 77 (ctest's
# SKIP_RETURN_CODE) with the reason when systemd-analyze cannot run here.
# usage: systemd_verify.sh RECOUP CONTRIB_SYSTEMD_DIR
set -u
recoup=$1
units=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian's systemd package; make deps installs it)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Can it verify at all here (a container without systemd as PID 1 can)?
printf '[Service]\nExecStart=/bin/true\n' > "$work/probe.service"
if ! out=$(systemd-analyze verify "$work/probe.service" 2>&1) || [ -n "$out" ]; then
  echo "SKIP: systemd-analyze verify does not run in this environment: $out"
  exit 77
fi
rm -f "$work/probe.service"
fail=0
for unit in recoup.service recoup@.service; do
  sed "s|^ExecStart=[^ ]*recoup |ExecStart=$recoup |" "$units/$unit" > "$work/$unit"
  grep -q "^ExecStart=$recoup serve " "$work/$unit" || {
    echo "FAIL: $unit: no ExecStart=.../recoup serve line to point at the build"; fail=1; }
  for want in '^User=recoup$' '^Restart=on-failure$' '^ExecReload=.*-HUP \$MAINPID$' \
      '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' '^ReadWritePaths=/' \
      '^PrivateTmp=yes$' '^EnvironmentFile=/etc/recoup/' '^KillSignal=SIGTERM$'; do
    grep -q "$want" "$work/$unit" || { echo "FAIL: $unit lacks $want"; fail=1; }
  done
  name=$unit
  [ "$unit" = recoup@.service ] && name=recoup@demo.service
  if ! out=$(cd "$work" && systemd-analyze verify "./$name" 2>&1) || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify $name:"
    echo "$out"
    fail=1
  else
    echo "ok: systemd-analyze verify $name (ExecStart=$recoup)"
  fi
done
exit $fail
