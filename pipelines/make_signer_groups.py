"""Write the signer / setting table that training and evaluation split by.

    python pipelines/make_signer_groups.py ../shared/data -o pipelines/signers.tsv

One row per clip of ``shared/data``: ``video  signer  setting  split  person``. ``split`` is ``test``
for the held-out signers below (never trained on, never used to pick a checkpoint; chosen
to cover home webcams, selfies, plain and coloured studios, skin-coloured walls and light
clothing), ``val`` for the validation signers (whole signers again, chosen to cover the same
kinds of footage, so that checkpoints and options are picked on the settings that fail) and
``train`` for the rest; ``signseg train --groups`` validates on the ``val`` rows and keeps the
``test`` rows out. Signers come from ``signs2/SOURCES.tsv`` and ``signs3/SOURCES.tsv``; clips without a known signer
(``signs/``: Start ASL's and the Turkish clips' few signers, each in many clips) stay in
training, never in validation, where they would be signers seen in training.

``person`` is the signer, except where one person is two "signers" of SOURCES.tsv (the same
person in other clothes, found after the splits were fixed and the networks trained on them,
:data:`SAME_PERSON`): such a held-out clip is not of a person never seen, and the evaluation
says so (``pipelines/compare_part_splits.py``: "people never trained on").
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
#: Validation signers (thirteenth session; before it validation took a hash of the signer, which
#: drew no light clothing or close-up and many Start ASL clips whose signers also trained).
VAL_SIGNERS = {
    "HKSL F2 glasses, grey-green sweater": "light clothing",
    "ISL man yellow shirt": "light clothing",
    "ASL man grey tee": "light clothing",
    "ASL older man grey sweater": "light clothing",
    "ASL blonde woman, window blinds": "home",
    "ASL woman curly hair, whiteboard": "home",
    "klyct-I: man, glasses, black t-shirt, grey backdrop": "home",
    "ASL woman long hair (selfie)": "selfie / close-up",
    "ASL woman long hair, blue bg (selfie)": "selfie / close-up",
    "ASL woman pink top, lilac bg": "coloured studio",
    "woman, long light-brown hair, black top, orange backdrop (INSOR-style)": "coloured studio",
    "ASL woman teal bg": "coloured studio",
    "Auslan M3 young man, dark shirt": "plain studio",
    "klyct-H: woman, dark hair tied, black top, white wall": "white wall",
}
#: signs3's held-out test signers (twenty-first session): new signers of the settings where hands
#: were missed -- close-up webcams with hands at the lens or touching each other, hands touching
#: the face, skin-coloured and light clothing, brown and dark skin, full-body framing (small
#: hands), a cluttered home. Never trained on, never used to choose.
TEST_SIGNERS3 = {
    "young woman light skin long dark hair white shirt (light clothing), hands touch face": "light clothing",
    "Algerian SL man light-tan skin beard glasses grey shirt, close-up, hands touching": "selfie / close-up",
    "young man light skin curly hair dark top, hand very close to lens": "selfie / close-up",
    "SIBI woman light-tan skin navy hijab pink blazer (skin-tone clothing)": "light clothing",
    "woman light-olive skin dark hair beige knit sweater (skin-tone clothing)": "light clothing",
    "ISL young woman brown skin long dark hair black/red patterned top": "plain studio",
    "LIBRAS woman dark skin glasses navy top": "full body",
    "NGT young man light skin brown hair olive tee, full body portrait": "full body",
    "Thai teen boy light skin glasses black sports tee": "home",
}
#: signs3's validation signers: the same kinds of footage, where checkpoints and thresholds are chosen.
VAL_SIGNERS3 = {
    "ASL young woman light skin long hair denim jacket, hands to face": "home webcam",
    "young man light skin glasses white dress shirt (white clothing)": "light clothing",
    "LSB/LSM young man light-brown skin grey hoodie headphones": "home webcam",
    "TSL(Thai) young woman light skin dark hair navy polo": "full body",
}
#: SOURCES.tsv names a few people twice: one signer each.
SAME_SIGNER = {"ASL Black man white tee, yellow bg (same as Kirichovka know)": "ASL Black man white tee, yellow bg"}
#: One person under two signers' names, each in a different split (thirtieth session, by their
#: frames side by side). The splits stay as they were trained; ``person`` tells them apart.
SAME_PERSON = {
    "Thai teen boy light skin glasses black zip jacket over white shirt": "Thai teen boy light skin glasses black sports tee",
    "ASL woman long hair (selfie)": "ASL woman scrubs (selfie)",
    "young woman light skin glasses magenta tee": "young woman light skin long dark hair white shirt (light clothing), hands touch face",
}
#: The pose-repo clips, held out as in every earlier model card.
TEST_CLIPS = {"SOUP": "plain studio", "test_video": "home webcam", "video": "plain studio"}


def rows(shared: Path) -> list[tuple[str, str, str, str, str]]:
    out = []
    for folder, test, val in (("signs2", TEST_SIGNERS, VAL_SIGNERS), ("signs3", TEST_SIGNERS3, VAL_SIGNERS3)):
        if not (shared / folder / "SOURCES.tsv").is_file():
            continue
        with open(shared / folder / "SOURCES.tsv", encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                vid, signer = Path(r["file"]).stem, SAME_SIGNER.get(r["signer"], r["signer"])
                split = "test" if signer in test else "val" if signer in val else "train"
                setting = test.get(signer) or val.get(signer) or r["setting"]
                out.append((vid, signer, setting, split, SAME_PERSON.get(signer, signer)))
    for clip in sorted((shared / "signs").glob("*.mp4")) + sorted((shared / "videos").glob("*.mp4")):
        vid = clip.stem
        if vid in TEST_CLIPS:
            out.append((vid, vid, TEST_CLIPS[vid], "test", vid))
        else:
            out.append((vid, vid, "studio (signs)", "train", vid))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shared_data", type=Path, help="the shared/data folder")
    p.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args()
    table = rows(args.shared_data)
    args.output.write_text("video\tsigner\tsetting\tsplit\tperson\n" + "".join("\t".join(r) + "\n" for r in table),
                           encoding="utf-8")
    test, val = ([r for r in table if r[3] == split] for split in ("test", "val"))
    print(f"{len(table)} clips, {len(test)} test clips of {len({r[1] for r in test})} signers, {len(val)} validation "
          f"clips of {len({r[1] for r in val})} signers -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
