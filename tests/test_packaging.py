"""The installed wheel, not the checkout: every subpackage and the shipped weights are in it."""
import subprocess
import sys
import sysconfig
import venv
import zipfile

import h5py

from conftest import REPO, SOUP


def test_a_wheel_holds_every_package_and_the_weights_and_segments(tmp_path):
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(wheels), str(REPO)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = wheels.glob("signseg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(REPO).as_posix() for p in (REPO / "signseg").rglob("__init__.py")}
    for package in packages:
        assert f"{package}/__init__.py" in names, f"{package} is not in the wheel"
    for name in ("snet-lite", "snet"):
        assert {f"signseg/weights/{name}.weights.h5", f"signseg/weights/{name}.json"} <= names
    for name in ("hand-refiner", "arm-sides"):  # snet-lite's second networks and their int8 graphs
        assert {f"signseg/weights/{name}.weights.h5", f"signseg/weights/{name}.int8.onnx"} <= names

    # a fresh venv with the wheel installed; its dependencies are borrowed from this
    # environment (a .pth line) instead of downloaded again
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    site = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the wheel first, then this environment's packages (its own editable signseg left out)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(f"{site}/borrowed.pth", "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    out = tmp_path / "soup.h5"
    code = ("import signseg, sys; from signseg.cli import main; "
            "assert signseg.__file__.startswith(sys.argv[1]), signseg.__file__; "
            "sys.exit(main(['segment', sys.argv[2], '-o', sys.argv[3], '-q']))")
    r = subprocess.run([str(env_dir / "bin" / "python"), "-c", code, site, str(SOUP), str(out)],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    with h5py.File(out, "r") as f:
        assert f["videos/SOUP/masks"].shape == (41, 240, 320)
        assert f["videos/SOUP"].attrs["model"] == "snet-lite"


def test_a_checkout_on_pythonpath_finds_the_shipped_weights(tmp_path):
    """As on the GPU machine, where the project runs from a copied checkout, uninstalled."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = str(env_dir / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(f"{site}/borrowed.pth", "w") as f:  # the dependencies, not this environment's signseg
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    code = ("import signseg, sys; from signseg.infer.presets import resolve; "
            "assert signseg.__file__.startswith(sys.argv[1]), signseg.__file__; "
            "card, path = resolve('snet-lite'); assert path.is_file(); print(path)")
    r = subprocess.run([python, "-c", code, str(REPO)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().startswith(str(REPO / "signseg" / "weights"))
