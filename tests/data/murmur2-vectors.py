#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes tests/data/murmur2-vectors.txt with kafka-python's own partitioner
(kafka.partitioner.default.murmur2, the Java client's): one line per key and
partition count, "key<TAB>partitions<TAB>partition". Run it in a virtual
environment with kafka-python installed:

    python3 -m venv /tmp/kp && /tmp/kp/bin/pip install kafka-python
    /tmp/kp/bin/python tests/data/murmur2-vectors.py > tests/data/murmur2-vectors.txt
"""
import random

from kafka.partitioner.default import murmur2

rng = random.Random(20261207)
keys = [f"CP-{i:03d}" for i in range(1, 201)]
keys += [f"CP-{rng.randrange(10**6):06d}" for _ in range(200)]
keys += ["cp", "X", "CP-ñandú-€", "charging-point.madrid.0042", "A" * 64]
keys += ["".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") for _ in range(rng.randrange(1, 65)))
         for _ in range(95)]
for key in keys:
    for partitions in (1, 2, 3, 7, 12, 64, 100, 1563):
        h = murmur2(key.encode("utf-8"))
        print(f"{key}\t{partitions}\t{(h & 0x7fffffff) % partitions}")
