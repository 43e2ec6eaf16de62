"""``signseg models``: list the shipped models."""
from __future__ import annotations

import argparse
import json


def add_parser(sub, parents) -> argparse.ArgumentParser:
    m = sub.add_parser("models", parents=parents, help="list the shipped models")
    m.add_argument("--json", action="store_true")
    return m


def run(args) -> int:
    from signseg.infer.presets import list_presets
    presets = list_presets()
    if args.json:
        print(json.dumps(presets, indent=2))
        return 0
    for name, entry in presets.items():
        state = "installed" if entry["available"] else "not installed"
        line = f"{name:10s} {state:14s} {entry['description']}"
        if entry["available"]:
            card = entry["card"]
            flip = (", mirror" if card.get("mirror") else "") + (
                f", {card['max_blobs']} largest blobs" if card.get("max_blobs") else "") + (
                ", int8 graph for CPUs" if card.get("int8") else "") + (
                "".join(f", {what}" + ("" if card[key].get("default") else " (off unless asked)")
                        for key, what in (("hand_refiner", "hand refiner"), ("arm_sides", "arm network"))
                        if card.get(key)))
            line += (f" [{card['architecture']} {card['input_size'][0]}x{card['input_size'][1]}, "
                     f"threshold {card['threshold']}{flip}]")
        print(line)
    return 0
