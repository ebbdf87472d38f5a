"""Device commands of the aarch64 stand-in, as ``/system/bin/sh`` scripts (test infrastructure).

The Android-like root has no Python, so ``getprop``, ``dumpsys`` and ``cmd``
(the Python ones in :mod:`.device_tools` serve the host-shell stand-in) are
written here for busybox's sh, with the same output. Props are read on every
call from :data:`PROPS_PATH`, which :func:`phone_standin.sandbox.write_props`
keeps beside its JSON as sorted ``KEY=VALUE`` lines (the ``build.prop``
format), so ``StandinDevice.set_prop`` is visible at once.

``nohup`` is here too: Debian's busybox-static is built without that applet,
and toybox (Android's) has it: ignore SIGHUP, send a terminal stdout to
``nohup.out``, exec the command.
"""

from __future__ import annotations

from phone_standin.sandbox import PROPS_LINES_RELATIVE

PROPS_PATH = f"/{PROPS_LINES_RELATIVE.as_posix()}"

GETPROP = f"""#!/system/bin/sh
# getprop [KEY [DEFAULT]]: props from {PROPS_PATH} (sorted KEY=VALUE lines)
if [ $# -eq 0 ]; then
    while IFS= read -r line; do
        printf '[%s]: [%s]\\n' "${{line%%=*}}" "${{line#*=}}"
    done < {PROPS_PATH}
    exit 0
fi
while IFS= read -r line; do
    case "$line" in
        "$1="*) printf '%s\\n' "${{line#*=}}"; exit 0 ;;
    esac
done < {PROPS_PATH}
printf '%s\\n' "${{2-}}"
"""

DUMPSYS = """#!/system/bin/sh
# Only `dumpsys battery`; other services are reported missing, as on a device.
if [ "$1" != battery ]; then
    echo "Can't find service: $1" >&2
    exit 0
fi
level=$(getprop standin.battery.level 85)
temperature=$(getprop standin.battery.temperature 290)
cat <<EOF
Current Battery Service state:
  AC powered: false
  USB powered: true
  Wireless powered: false
  Max charging current: 500000
  Max charging voltage: 5000000
  Charge counter: 3000000
  status: 2
  health: 2
  present: true
  level: $level
  scale: 100
  voltage: 4200
  temperature: $temperature
  technology: Li-ion
EOF
"""

CMD = """#!/system/bin/sh
# A stub `cmd` (the banner's cmd feature): no system services exist here.
case "$1" in
    "") echo "cmd: No service specified; use -l to list all services" >&2 ;;
    -l) echo "Currently running services:"; exit 0 ;;
    *) echo "cmd: Can't find service: $1" >&2 ;;
esac
exit 20
"""

NOHUP = """#!/system/bin/sh
# nohup COMMAND [ARG...]: as toybox's (busybox-static lacks the applet).
trap '' HUP
[ -t 1 ] && exec >>nohup.out
[ -t 2 ] && exec 2>&1
exec "$@"
"""

TOOLS: dict[str, str] = {"getprop": GETPROP, "dumpsys": DUMPSYS, "cmd": CMD, "nohup": NOHUP}
