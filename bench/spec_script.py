#!/usr/bin/env python3
"""Prints the assignment's benchmark script: 5 servers, 5 clients each on its
own server, clients taking turns issuing PUTS puts of SIZE-byte values with
3-character keys, then stabilize. Usage: spec_script.py [PUTS] [SIZE] [SEED]"""
import random
import sys

puts = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
size = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
for i in range(5):
    print(f"joinServer {i}")
for c in range(5, 10):
    print(f"joinClient {c} {c - 5}")
for i in range(puts):
    key = "".join(rng.choice("abcdefghij") for _ in range(3))
    value = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size))
    print(f"put {5 + i % 5} {key} {value}")
print("stabilize")
