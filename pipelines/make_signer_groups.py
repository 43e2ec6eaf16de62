"""Write the signer / setting table that training and evaluation split by.

    python pipelines/make_signer_groups.py ../shared/data -o pipelines/signers.tsv

One row per clip of ``shared/data``: ``video  signer  setting  split``. ``split`` is ``test``
for the held-out signers below (never trained on, never used to pick a checkpoint; chosen
to cover home webcams, selfies, plain and coloured studios, skin-coloured walls and light
clothing) and ``train`` for the rest; ``signseg train --groups`` then validates on whole
signers among the ``train`` rows. Signers come from ``signs2/SOURCES.tsv``; clips without
a known signer are their own group.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

#: Held-out test signers (signs2's ``signer`` column) and the setting each stands for.
TEST_SIGNERS = {
    "ASL man white tee (portrait video)": "light clothing",
    "HKSL M1 young man, yellow tee": "light clothing",
    "HKSL F6 light top": "light clothing",
    "JSL F2 grey cardigan": "skin-coloured wall",
    "klyct-D: young man, spiky hair, black t-shirt, peach wall": "skin-coloured wall",
    "JSL F5 glasses, striped-sleeve top": "white wall",
    "ASL woman scrubs (selfie)": "selfie / close-up",
    "young woman, long dark curly hair, red top": "home",
    "ASL older blonde woman": "home",
    "Auslan M5 man dark hair, black sweater": "coloured studio",
    "ASL man green tee, yellow bg": "coloured studio",
}
#: The pose-repo clips, held out as in every earlier model card.
TEST_CLIPS = {"SOUP": "plain studio", "test_video": "home webcam", "video": "plain studio"}


def rows(shared: Path) -> list[tuple[str, str, str, str]]:
    out = []
    with open(shared / "signs2" / "SOURCES.tsv", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            vid = Path(r["file"]).stem
            setting = TEST_SIGNERS.get(r["signer"], r["setting"])
            out.append((vid, r["signer"], setting, "test" if r["signer"] in TEST_SIGNERS else "train"))
    for clip in sorted((shared / "signs").glob("*.mp4")) + sorted((shared / "videos").glob("*.mp4")):
        vid = clip.stem
        if vid in TEST_CLIPS:
            out.append((vid, vid, TEST_CLIPS[vid], "test"))
        else:
            out.append((vid, vid, "studio (signs)", "train"))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shared_data", type=Path, help="the shared/data folder")
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args()
    table = rows(args.shared_data)
    args.output.write_text("video\tsigner\tsetting\tsplit\n" + "".join("\t".join(r) + "\n" for r in table),
                           encoding="utf-8")
    test = [r for r in table if r[3] == "test"]
    print(f"{len(table)} clips, {len(test)} test clips of {len({r[1] for r in test})} signers -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
