#!/usr/bin/env bash
# Compiler launcher of the header self-containment check (tests/headers/CMakeLists.txt):
# runs the compile command it is given with -fsyntax-only (parse and check, no code:
# a third faster than -O0, and self-containment is a front-end property), then creates
# the empty object the build expects, so that an unchanged header is not checked again.
set -u
out=""
prev=""
for arg in "$@"; do
    if [ "$prev" = "-o" ]; then out=$arg; fi
    prev=$arg
done
"$@" -fsyntax-only || exit
if [ -n "$out" ]; then : > "$out"; fi
