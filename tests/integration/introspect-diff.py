#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare one interface in two D-Bus introspection XML documents.

    introspect-diff.py INTERFACE DOCUMENTED.xml EXPORTED.xml

Compared: methods (each argument's name, type and direction, in order),
signals (arguments in order), properties (type, access, and the
org.freedesktop.DBus.Property.EmitsChangedSignal value, "true" when absent).
Ignored: doc strings and other annotations, comments, whitespace, element
order, and the standard interfaces. Exit 0 when equal, 1 with the
differences listed, 2 on bad input.
"""
import sys
import xml.etree.ElementTree as ET

EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"


def emits(element, default):
    for a in element.findall("annotation"):
        if a.get("name") == EMITS:
            return a.get("value")
    return default


def normalise(path, interface):
    root = ET.parse(path).getroot()
    ifaces = [i for i in root.iter("interface") if i.get("name") == interface]
    if len(ifaces) != 1:
        raise ValueError(f"{path}: {len(ifaces)} definitions of {interface}")
    iface = ifaces[0]
    default_emits = emits(iface, "true")
    items = set()
    for m in iface.findall("method"):
        args = tuple((a.get("name"), a.get("type"), a.get("direction", "in")) for a in m.findall("arg"))
        items.add(("method", m.get("name"), args))
    for s in iface.findall("signal"):
        args = tuple((a.get("name"), a.get("type")) for a in s.findall("arg"))
        items.add(("signal", s.get("name"), args))
    for p in iface.findall("property"):
        items.add(("property", p.get("name"), (p.get("type"), p.get("access"), emits(p, default_emits))))
    return items


def show(item):
    kind, name, detail = item
    return f"{kind} {name} {detail}"


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    interface, documented, exported = argv[1:]
    try:
        want = normalise(documented, interface)
        have = normalise(exported, interface)
    except (ET.ParseError, OSError, ValueError) as e:
        print(f"introspect-diff: {e}", file=sys.stderr)
        return 2
    missing = sorted(want - have, key=show)
    extra = sorted(have - want, key=show)
    for item in missing:
        print(f"documented, not exported: {show(item)}")
    for item in extra:
        print(f"exported, not documented: {show(item)}")
    if missing or extra:
        return 1
    print(f"{interface}: {len(want)} members match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
