#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Condense dbus-monitor's output (default format) into one line per signal,
for test-bus-daemon.sh:

    PressureLevelChanged LEVEL PREVIOUS
    ProcessFrozen|ProcessThawed|ProcessKilled|ProcessCheckpointed PID UID REASON
    PropertiesChanged KEY=VALUE...   (PressureLevel=s, DryRun=true|false,
                                      Foreground=PID,APP_ID, FrozenProcesses=PID,PID...;
                                      other properties are listed by name only)
    LowMemoryWarning LEVEL

Usage: busd-monitor.py FILE
"""
import re
import signal
import sys

ARG = re.compile(r'^\s*(?:variant\s+)?(string|uint32|int32|uint64|int64|double|boolean|byte)\s+(.*)$')
PROPS = {"PressureLevel", "PressureScore", "Signals", "FrozenProcesses", "Foreground", "Mode", "DryRun",
         "Version"}


def value(kind, text):
    if kind == "string":
        return text[1:-1] if len(text) >= 2 and text[0] == '"' and text[-1] == '"' else text
    return text


def properties(args):
    out = []
    i = 0
    while i < len(args):
        kind, v = args[i]
        if kind != "string" or v not in PROPS:
            i += 1
            continue
        name = v
        j = i + 1
        # the property's own tokens: up to the next property name
        while j < len(args) and not (args[j][0] == "string" and args[j][1] in PROPS):
            j += 1
        toks = args[i + 1:j]
        if name in ("PressureLevel", "DryRun", "Mode", "Version") and toks:
            out.append("%s=%s" % (name, toks[0][1]))
        elif name == "Foreground" and len(toks) >= 2:
            out.append("Foreground=%s,%s" % (toks[0][1], toks[1][1]))
        elif name == "FrozenProcesses":
            # structs of (u pid, s app, u uid, t since, t bytes)
            pids = [toks[k][1] for k in range(0, len(toks), 5) if toks[k][0] == "uint32"]
            out.append("FrozenProcesses=%s" % ",".join(pids))
        else:
            out.append(name)
        i = j
    return out


def flush(member, args):
    if member is None:
        return
    if member == "PressureLevelChanged" and len(args) >= 2:
        print("PressureLevelChanged %s %s" % (args[0][1], args[1][1]))
    elif member.startswith("Process") and len(args) >= 4:
        print("%s %s %s %s" % (member, args[0][1], args[2][1], args[3][1]))
    elif member == "PropertiesChanged" and args and args[0][1] == "org.memguard.Manager":
        print("PropertiesChanged " + " ".join(properties(args[1:])))
    elif member == "LowMemoryWarning" and args:
        print("LowMemoryWarning %s" % args[0][1])


def main():
    member, args = None, []
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line[0].isspace():
                flush(member, args)
                member, args = None, []
                if line.startswith("signal "):
                    m = re.search(r"member=([A-Za-z0-9_]+)", line)
                    member = m.group(1) if m else None
                continue
            m = ARG.match(line)
            if m and member:
                args.append((m.group(1), value(m.group(1), m.group(2).strip())))
    flush(member, args)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| grep -q` may stop reading early
    main()
