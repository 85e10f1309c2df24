#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Embed a text file in C: defines `const char SYMBOL[]`, NUL-terminated.

Usage: embed-text.py SYMBOL INPUT OUTPUT

Bytes are written as a hex array rather than a string literal, so no escaping
can go wrong and no compiler limit on literal length applies.
"""
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    symbol, src, dst = sys.argv[1:]
    if not symbol.isidentifier():
        sys.exit(f'embed-text.py: invalid symbol name {symbol!r}')
    with open(src, 'rb') as f:
        data = f.read()
    if b'\0' in data:
        sys.exit(f'embed-text.py: {src} contains a NUL byte')
    data += b'\0'
    lines = []
    for i in range(0, len(data), 16):
        lines.append('        ' + ', '.join(f'0x{b:02x}' for b in data[i:i + 16]) + ',')
    with open(dst, 'w') as f:
        f.write(f'/* Generated from {src.split("/")[-1]} by tools/embed-text.py; do not edit. */\n')
        f.write(f'extern const char {symbol}[];\n')
        f.write(f'const char {symbol}[] = {{\n')
        f.write('\n'.join(lines))
        f.write('\n};\n')


if __name__ == '__main__':
    main()
