"""The signer table that training and evaluation split by (``pipelines/signers.tsv``): made
from the data's own source lists, and honest about the people its held-out split shares with
training (the ``person`` column)."""
import csv
import subprocess
import sys

from conftest import REPO, SHARED


def _table(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_the_committed_table_is_what_the_script_makes_from_the_data(tmp_path):
    out = tmp_path / "signers.tsv"
    subprocess.run([sys.executable, REPO / "pipelines" / "make_signer_groups.py", SHARED, "-o", out],
                   check=True, capture_output=True, timeout=120)
    assert out.read_text(encoding="utf-8") == (REPO / "pipelines" / "signers.tsv").read_text(encoding="utf-8")


def test_held_out_people_also_in_training_are_named_and_the_quality_clips_say_which():
    from test_quality import CLIPS
    rows = _table(REPO / "pipelines" / "signers.tsv")
    trained = {r["person"] for r in rows if r["split"] == "train"}
    seen = {r["video"] for r in rows if r["split"] == "test" and r["person"] in trained}
    assert all(r["split"] != "test" or r["signer"] not in {t["signer"] for t in rows if t["split"] == "train"}
               for r in rows)  # by signer, the split is clean ...
    assert {v.split("__")[0] for v in seen} == {"psuchanarth-cpu", "bonbon1603"}  # ... by person, two are not
    assert seen & set(CLIPS) == {"psuchanarth-cpu__how-are-you", "bonbon1603__friend"}
    # a held-out selfie signer is a validation signer in other clothes: not trained on, but chosen on
    val_people = {r["person"] for r in rows if r["split"] == "val"}
    assert {r["video"] for r in rows if r["split"] == "test" and r["person"] in val_people} == {"lameburger__asl_thankyou"}
