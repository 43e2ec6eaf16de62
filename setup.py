from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path("signseg/_version.py").read_text(), version)

setup(
    name="signseg",
    version=version["__version__"],
    description="Hand and face segmentation for sign-language video corpora (SNet / VGG U-Nets)",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["signseg", "signseg.*"]),
    # the shipped weights and their cards: package data, found by a checkout on PYTHONPATH too
    package_data={"signseg.weights": ["*.weights.h5", "*.json", "*.int8.onnx"]},
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.3",
        "numpy",
        "opencv-python-headless",
        "h5py>=3.8",
        "joblib",
        "tqdm",
        # the fastest CPU runtime (signseg.infer.runtimes): the model exported to ONNX Runtime
        "onnxruntime",
        "tf2onnx",
        "onnx",
    ],
    extras_require={
        # past one machine: joblib's dask and ray backends (signseg corpus --backend dask|ray)
        "dask": ["dask[distributed]"],
        "ray": ["ray"],
        # signseg.readers.to_torch_dataset
        "torch": ["torch"],
        # NVIDIA GPUs: Keras on JAX (KERAS_BACKEND=jax), the backend the GPU path is measured on
        "gpu": ["jax[cuda13]"],
        # tf-keras builds genuine Keras-2 models for the legacy-file tests; the corpus tests run
        # the dask and ray backends on local clusters; PyAV encodes the odd fault-suite videos;
        # torch runs the DataLoader test (2.13.0: the CPU build pip finds on the CI image;
        # an unpinned torch would pull a multi-GB CUDA build there); jax (CPU) proves the GPU
        # path compiles once per input size
        "test": ["pytest", "tf-keras", "dask[distributed]", "ray", "av", "torch==2.13.0", "jax"],
    },
    entry_points={"console_scripts": ["signseg = signseg.cli:main"]},
)
